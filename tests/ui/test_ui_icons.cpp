// SPDX-License-Identifier: GPL-3.0-or-later
// Every action the window offers has an icon (ours, compiled in, where the desktop's theme has
// none), and so does the window (the task bar's and the About box's).
#include <QMenu>
#include <QMenuBar>
#include <QTest>
#include <QToolBar>
#include <QWidgetAction>

#include "ui_tests.h"
#include "window/main_window.h"

using replicascope::ui::MainWindow;

namespace {

// Whether `action` shows an icon that draws: a null icon, or one whose file is missing from the
// resources, draws nothing.
bool has_icon(const QAction* action) {
  const auto icon = action->icon();
  return !icon.isNull() && !icon.pixmap(24, 24).isNull();
}

}  // namespace

void UiViewsTest::everyActionHasAnIcon() {
  MainWindow window;
  const auto* toolbar = window.findChild<QToolBar*>("training");
  QVERIFY(toolbar);
  int buttons = 0;
  for (const auto* action : toolbar->actions()) {
    if (action->isSeparator() || qobject_cast<const QWidgetAction*>(action)) continue;
    QVERIFY2(has_icon(action), qPrintable("toolbar: " + action->text()));
    ++buttons;
  }
  QCOMPARE(buttons, 6);  // Step, Step N, Run, Stop, Reset, Apply
  QStringList menus;
  for (const auto* menu_action : window.menuBar()->actions()) {
    const auto* menu = menu_action->menu();
    if (!menu || menu->title() == "&View") continue;  // View: the docks, named by their titles
    menus << menu->title();
    for (const auto* action : menu->actions()) {
      if (action->isSeparator()) continue;
      QVERIFY2(has_icon(action), qPrintable(menu->title() + " > " + action->text()));
    }
  }
  QCOMPARE(menus, QStringList({"&File", "&Debug", "&Help"}));
  QVERIFY(!window.windowIcon().isNull() && !window.windowIcon().pixmap(64, 64).isNull());
}
