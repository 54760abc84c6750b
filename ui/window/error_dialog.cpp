// SPDX-License-Identifier: GPL-3.0-or-later
#include "window/error_dialog.h"

#include <QMessageBox>
#include <QRegularExpression>
#include <QStringList>
#include <algorithm>
#include <vector>

namespace replicascope::ui {
namespace {

constexpr int kMaxLines = 8;
constexpr int kMaxLineLength = 240;

QString shortened(const QString& line) {
  return line.size() <= kMaxLineLength ? line : line.left(kMaxLineLength - 3) + "...";
}

}  // namespace

ErrorSummary summarize_error(const QString& what) {
  static const QRegularExpression copy_line(R"(^(\s*)copy (\d+): (.*)$)");
  // Distinct copy messages in the order they first came, with the copies that gave each.
  struct Group {
    QString indent, message;
    QStringList copies;
  };
  std::vector<Group> groups;
  QStringList lines;
  int group_line = -1;  // where the copies' lines go: where the first one was
  for (const auto& line : what.split('\n')) {
    const auto match = copy_line.match(line);
    if (!match.hasMatch()) {
      if (!line.trimmed().isEmpty()) lines << line;
      continue;
    }
    if (group_line < 0) group_line = static_cast<int>(lines.size());
    const auto message = match.captured(3);
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const Group& g) { return g.message == message; });
    if (it == groups.end()) {
      groups.push_back({match.captured(1), message, {}});
      it = groups.end() - 1;
    }
    it->copies << match.captured(2);
  }
  QStringList folded;
  for (const auto& g : groups) {
    folded << QString("%1%2 %3: %4")
                  .arg(g.indent, g.copies.size() == 1 ? "copy" : "copies", g.copies.join(", "),
                       g.message);
  }
  if (group_line >= 0) {
    for (int i = 0; i < folded.size(); ++i) lines.insert(group_line + i, folded[i]);
  }
  ErrorSummary out;
  QStringList summary;
  for (int i = 0; i < lines.size() && i < kMaxLines; ++i) summary << shortened(lines[i]);
  if (lines.size() > kMaxLines)
    summary << QString("(%1 more lines under Details)").arg(lines.size() - kMaxLines);
  out.summary = summary.join('\n');
  if (out.summary != what.trimmed()) out.details = what;
  return out;
}

void show_error(QWidget* parent, const QString& what) {
  const auto summary = summarize_error(what);
  QMessageBox box(QMessageBox::Warning, "ReplicaScope", summary.summary, QMessageBox::Ok, parent);
  box.setDetailedText(summary.details);
  box.exec();
}

}  // namespace replicascope::ui
