// SPDX-License-Identifier: GPL-3.0-or-later
// The icons of the main window's actions, by their menu text, and the application's icon.
#include "window/main_window_icons.h"

#include <array>

namespace replicascope::ui {
namespace {

struct ActionIcon {
  const char* text;   // the action's text without mnemonic or "..."
  const char* theme;  // a freedesktop or common theme name of that meaning; nullptr: ours only
  const char* ours;   // resources/icons/actions/NAME.svg
};

// Every action of the File, Debug and Help menus and of the toolbar (a test checks that none
// lacks one).
constexpr std::array kActionIcons = {
    ActionIcon{"New session", "document-new", "new-session"},
    ActionIcon{"Open model or run", "document-open", "open"},
    ActionIcon{"Open the demo", nullptr, "demo"},
    ActionIcon{"Reload the run", "view-refresh", "reload"},
    ActionIcon{"Recent files", "document-open-recent", "recent"},
    ActionIcon{"Compare with runs", nullptr, "compare"},
    ActionIcon{"Clear comparisons", "edit-clear", "clear-comparisons"},
    ActionIcon{"Export plot", "document-save-as", "export-plot"},
    ActionIcon{"Export plot data as CSV", nullptr, "export-csv"},
    ActionIcon{"Copy plot", "edit-copy", "copy-plot"},
    ActionIcon{"Quit", "application-exit", "quit"},
    ActionIcon{"Step", "debug-step-over", "step"},
    ActionIcon{"Step N", "media-seek-forward", "step-n"},
    ActionIcon{"Run", "media-playback-start", "run"},
    ActionIcon{"Pause", "media-playback-pause", "pause"},
    ActionIcon{"Stop", "media-playback-stop", "stop"},
    ActionIcon{"Reset", "go-first", "reset"},
    ActionIcon{"Toggle breakpoint", nullptr, "breakpoint"},
    ActionIcon{"Continue", "debug-run", "continue"},
    ActionIcon{"Step to next sync point", "debug-step-into", "next-sync-point"},
    ActionIcon{"Run to end of batch", "debug-step-out", "end-of-batch"},
    ActionIcon{"Apply", "dialog-ok-apply", "apply"},
    ActionIcon{"Keyboard shortcuts", "preferences-desktop-keyboard-shortcuts", "shortcuts"},
    ActionIcon{"About ReplicaScope", "help-about", "about"},
};

QString plain_text(QString text) {
  text.remove('&');
  if (text.endsWith("...")) text.chop(3);
  return text;
}

}  // namespace

QIcon application_icon() {
  QIcon ours(":/icons/io.github.replicascope.ReplicaScope.svg");
  return QIcon::fromTheme("io.github.replicascope.ReplicaScope", ours);
}

QIcon action_icon(const QString& text) {
  const auto plain = plain_text(text);
  for (const auto& icon : kActionIcons) {
    if (plain != QLatin1String(icon.text)) continue;
    QIcon ours(QString(":/icons/actions/%1.svg").arg(QLatin1String(icon.ours)));
    return icon.theme ? QIcon::fromTheme(QLatin1String(icon.theme), ours) : ours;
  }
  return {};
}

}  // namespace replicascope::ui
