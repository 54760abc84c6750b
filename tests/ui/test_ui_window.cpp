// SPDX-License-Identifier: GPL-3.0-or-later
// A window that keeps its word (issue 30): the status bar says what is true now, the New session
// dialog says why a session did not open and changes nothing until one did, a recorded run
// changes nothing of what trains next, every Step asked for is a step, and the window is usable
// at 1024x640 (and says what it hides below that).
#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QFile>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QPointer>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStatusBar>
#include <QTabBar>
#include <QTabWidget>
#include <QTest>
#include <QTreeView>

#include "panels/breakpoint_panel.h"
#include "panels/module_tree_panel.h"
#include "panels/statistics/statistics_controls.h"
#include "panels/statistics_view.h"
#include "panels/status_panel.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/engine/session.h"
#include "replicascope/engine/wiring.h"
#include "replicascope/store/run_writer.h"
#include "session/session_context.h"
#include "ui_tests.h"
#include "window/main_window.h"
#include "window/session_dialog.h"
#include "window/window_fit.h"

using namespace replicascope;
using namespace replicascope::ui;

namespace {

// The window on the demo: synthetic data, `devices`, batch `batch`, opened.
bool open_demo(MainWindow& window, const QString& devices = "cpu:2", int64_t batch = 8) {
  window.configure(devices, batch, /*synthetic=*/true, false);
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_demo();
  return opened.wait(kWaitMs);
}

QAction* action(MainWindow& window, const QString& text) {
  for (auto* menu : window.menuBar()->findChildren<QMenu*>()) {
    for (auto* a : menu->actions()) {
      if (a->text() == text) return a;
    }
  }
  qFatal("no action %s", qPrintable(text));
}

// Whether `widget` shows whole: as wide and high as it asks to be at least.
bool whole(const QWidget& widget) {
  const auto least = widget.minimumSizeHint();
  return widget.width() >= least.width() && widget.height() >= least.height();
}

}  // namespace

// Steps per second only while steps come; a session that opens takes an old error's text away.
void UiEngineTest::theStatusBarSaysWhatIsTrueNow() {
  MainWindow window;
  QVERIFY(open_demo(window));
  auto& status = panel<StatusPanel>(window);
  QSignalSpy stepped(&window.context(), &SessionContext::stepped);
  window.context().step(4);
  QTRY_COMPARE_WITH_TIMEOUT(stepped.count(), 4, kWaitMs);
  QTRY_VERIFY_WITH_TIMEOUT(!window.context().running(), kWaitMs);
  QVERIFY2(status.text().endsWith("| - steps/s"), qPrintable(status.text()));
  window.context().report_error("cannot open 'x.pt': no such file");
  QCOMPARE(window.statusBar()->currentMessage(), QString("cannot open 'x.pt': no such file"));
  QVERIFY(open_demo(window));
  QCOMPARE(window.statusBar()->currentMessage(), QString());
  QVERIFY2(status.text().startsWith("ready"), qPrintable(status.text()));
}

// An open that fails (a device list that cannot be, cpu:0) is said in the dialog, which stays
// open with the user's fields; the toolbar and the remembered settings stay as they were until
// a session opened.
void UiEngineTest::theNewSessionDialogSaysWhyItDidNotOpen() {
  MainWindow window;
  QVERIFY(open_demo(window, "cpu:2", 8));
  const auto remembered = QSettings().value("session/devices");
  QPointer<SessionDialog> dialog = window.ask_new_session();
  QVERIFY(dialog && dialog->isVisible());
  dialog->findChild<QLineEdit*>("devices")->setText("cpu:0");
  dialog->findChild<QSpinBox*>("batch")->setValue(12);
  QSignalSpy failed(&window.context(), &SessionContext::failed);
  dialog->accept();
  QVERIFY(dialog->starting());
  QVERIFY(failed.wait(kWaitMs));
  QVERIFY(dialog && dialog->isVisible() && !dialog->starting());
  QVERIFY2(dialog->problem().contains("cpu:0"), qPrintable(dialog->problem()));
  QVERIFY(dialog->findChild<QLabel*>("problem")->isVisible());
  QCOMPARE(dialog->findChild<QLineEdit*>("devices")->text(), QString("cpu:0"));
  QCOMPARE(dialog->findChild<QSpinBox*>("batch")->value(), 12);
  QCOMPARE(window.findChild<QLineEdit*>("devices")->text(), QString("cpu:2"));
  QCOMPARE(window.findChild<QSpinBox*>("batch")->value(), 8);
  QCOMPARE(QSettings().value("session/devices"), remembered);
  // Fixed in the dialog, the session opens: the dialog closes, the toolbar shows its settings.
  dialog->findChild<QLineEdit*>("devices")->setText("cpu:3");
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  dialog->accept();
  QVERIFY(opened.wait(kWaitMs));
  QTRY_VERIFY(!dialog || !dialog->isVisible());
  QCOMPARE(window.findChild<QLineEdit*>("devices")->text(), QString("cpu:3"));
  QCOMPARE(window.findChild<QSpinBox*>("batch")->value(), 12);
  QCOMPARE(QSettings().value("session/devices").toString(), QString("cpu:3"));
}

// A viewed run changes nothing of the next session (its settings are in the title); Apply on a
// run whose model is not here is off and says why, rather than starting the demo.
void UiEngineTest::aRecordedRunLeavesTheNextSessionAsItWas() {
  MainWindow window;
  QVERIFY(open_demo(window, "cpu:3", 12));
  const auto path = record_demo_run("elsewhere.sqlite", 0.05, 2, {}, /*synchronized=*/false,
                                    "/no/such/folder/net.pt");
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_file(path);
  QVERIFY(opened.wait(kWaitMs));
  QVERIFY2(window.windowTitle().contains("a run of net.pt: ") &&
               window.windowTitle().contains("batch 8, per-copy BN"),
           qPrintable(window.windowTitle()));
  QCOMPARE(window.findChild<QLineEdit*>("devices")->text(), QString("cpu:3"));
  QCOMPARE(window.findChild<QSpinBox*>("batch")->value(), 12);
  QVERIFY(window.findChild<QCheckBox*>("synchronized")->isChecked());
  QCOMPARE(window.session_spec().devices, std::string("cpu:3"));
  QVERIFY(window.session_spec().synchronized);
  auto* apply = window.findChild<QAction*>("apply");
  QVERIFY(apply && !apply->isEnabled());
  QVERIFY2(apply->toolTip().contains("not on this machine"), qPrintable(apply->toolTip()));
}

// The command line's flags are a session like any other: one that fails to open leaves the
// toolbar and the remembered settings as they were; a run opens by its content, whatever its name.
void UiEngineTest::flagsThatFailLeaveTheToolbarAndRunsOpenByContent() {
  MainWindow window;
  QVERIFY(open_demo(window, "cpu:2", 8));
  const auto remembered = QSettings().value("session/batch");
  QSignalSpy failed(&window.context(), &SessionContext::failed);
  window.open_with_flags({{"devices", "cpu:0"}, {"batch", "24"}}, {});
  QVERIFY(failed.wait(kWaitMs));
  QCOMPARE(window.findChild<QLineEdit*>("devices")->text(), QString("cpu:2"));
  QCOMPARE(window.findChild<QSpinBox*>("batch")->value(), 8);
  QCOMPARE(QSettings().value("session/batch"), remembered);
  // A run renamed without its suffix (a download, a copy named by date) is still a run.
  const auto run = record_demo_run("renamed.sqlite", 0.05, 2, {}, /*synchronized=*/true, "demo");
  const auto renamed = QFileInfo(run).absolutePath() + "/run-of-monday";
  QFile::remove(renamed);
  QVERIFY(QFile::copy(run, renamed));
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_file(renamed);
  QVERIFY(opened.wait(kWaitMs));
  QVERIFY2(window.windowTitle().contains("run-of-monday (a run of"),
           qPrintable(window.windowTitle()));
  // Flags with a run: it is viewed, and the flags are the next session's, in the toolbar now.
  window.open_with_flags({{"batch", "24"}}, renamed);
  QVERIFY(opened.wait(kWaitMs));
  QCOMPARE(window.findChild<QSpinBox*>("batch")->value(), 24);
  QCOMPARE(window.session_spec().batch, int64_t{24});
}

// --steps trains the first session only: one that failed to open, or a recorded run, takes
// them away, and the sessions after wait for Run (a run is never asked to train).
void UiEngineTest::stepsOfTheCommandLineAreForTheFirstSessionOnly() {
  MainWindow window;
  QSignalSpy failed(&window.context(), &SessionContext::failed);
  window.train_first_session(5);
  window.configure("cpu:0", 8, /*synthetic=*/true, false);
  window.open_demo();
  QVERIFY(failed.wait(kWaitMs));
  QVERIFY(open_demo(window));
  QSignalSpy stepped(&window.context(), &SessionContext::stepped);
  window.context().step(1);
  QVERIFY(stepped.wait(kWaitMs));
  QTRY_VERIFY_WITH_TIMEOUT(!window.context().running(), kWaitMs);
  QCOMPARE(stepped.count(), 1);
  // A recorded run opened first takes them too, without asking it to train.
  MainWindow viewer;
  QSignalSpy viewer_failed(&viewer.context(), &SessionContext::failed);
  viewer.train_first_session(5);
  QSignalSpy opened(&viewer.context(), &SessionContext::opened);
  viewer.open_file(record_demo_run("first.sqlite", 0.05, 2, {}, /*synchronized=*/false, "demo"));
  QVERIFY(opened.wait(kWaitMs));
  QVERIFY(open_demo(viewer));
  QSignalSpy viewer_stepped(&viewer.context(), &SessionContext::stepped);
  viewer.context().step(1);
  QVERIFY(viewer_stepped.wait(kWaitMs));
  QTRY_VERIFY_WITH_TIMEOUT(!viewer.context().running(), kWaitMs);
  QCOMPARE(viewer_stepped.count(), 1);
  QCOMPARE(viewer_failed.count(), 0);
}

// Step clicked 30 times while steps run is 30 steps: each click counts.
void UiEngineTest::everyStepClickIsAStep() {
  MainWindow window;
  QVERIFY(open_demo(window));
  QSignalSpy stepped(&window.context(), &SessionContext::stepped);
  auto* step = action(window, "&Step");
  for (int click = 0; click < 30; ++click) step->trigger();
  QTRY_VERIFY_WITH_TIMEOUT(stepped.count() >= 30 && !window.context().running(), kWaitMs);
  QCOMPARE(stepped.count(), 30);
  QCOMPARE(stepped.back().at(0).value<StepRecordPtr>()->step, 30);
}

// Sessions that open keep the Modules dock at the width the user dragged it to; a window too
// small for it squeezes it no further than its minimum, and it gets that width back once there
// is room.
void UiEngineTest::theModulesDockKeepsItsWidth() {
  MainWindow window;
  window.resize(1280, 800);
  window.show();
  QVERIFY(QTest::qWaitForWindowExposed(&window));
  auto* modules = window.findChild<QDockWidget*>("modules");
  QTRY_VERIFY(window.fit().kept_width() > 0);
  // The user drags the edge between the dock and the plots to 240 px.
  const QPoint edge(modules->geometry().right() + 3, modules->geometry().center().y());
  const auto drag = 240 - modules->width();
  QTest::mousePress(&window, Qt::LeftButton, {}, edge);
  for (const int x : {drag / 2, drag}) {
    QTest::mouseMove(&window, edge + QPoint(x, 0));
    QCoreApplication::processEvents();  // the window moves the edge on its next timer event
  }
  QTest::mouseRelease(&window, Qt::LeftButton, {}, edge + QPoint(drag, 0));
  QTRY_COMPARE(modules->width(), 240);
  QTRY_COMPARE(window.fit().kept_width(), 240);
  for (int session = 0; session < 3; ++session) QVERIFY(open_demo(window));
  QCoreApplication::processEvents();
  QCOMPARE(modules->width(), 240);
  window.resize(1024, 640);
  QTRY_VERIFY(whole(panel<ModuleTreePanel>(window)));
  window.resize(1280, 800);
  QTRY_COMPARE(modules->width(), 240);
  QVERIFY(panel<ModuleTreePanel>(window).minimumWidth() >= 120);
}

// The image shape and the class count are off for data that has its own, and then never block
// Start; a bad shape is said with the field's own layout (C,H,W).
void UiViewsTest::theSessionDialogOffersOnlyWhatTheDataTakes() {
  engine::SessionSpec start;
  start.data = "synthetic";
  start.classes = 4;
  start.image = {3, 32, 32};
  SessionDialog dialog(start);
  auto* data = dialog.findChild<QComboBox*>("data");
  auto* image = dialog.findChild<QLineEdit*>("image");
  auto* classes = dialog.findChild<QSpinBox*>("classes");
  QVERIFY(image->isEnabled() && classes->isEnabled());
  QCOMPARE(dialog.spec().classes, int64_t{4});
  data->setCurrentText("imagefolder:/data/pets");
  QVERIFY(image->isEnabled());
  QVERIFY(!classes->isEnabled());
  QCOMPARE(dialog.spec().classes, int64_t{0});  // no "--classes applies to synthetic data"
  QCOMPARE(dialog.spec().image, (std::vector<int64_t>{3, 32, 32}));
  data->setCurrentText("cifar10:/data/batch_1.bin");
  QVERIFY(!image->isEnabled() && !classes->isEnabled());
  QVERIFY(dialog.spec().image.empty());
  QSignalSpy start_requested(&dialog, &SessionDialog::startRequested);
  image->setText("3x32x32");  // off: not read
  dialog.accept();
  QCOMPARE(dialog.problem(), QString());
  QCOMPARE(start_requested.count(), 1);
  dialog.session_failed("no such file");
  data->setCurrentText("synthetic");
  QCOMPARE(classes->value(), 4);  // kept while off
  dialog.accept();
  QVERIFY2(dialog.problem().contains(
               "--image expects positive whole numbers separated by commas (C,H,W, say), got "
               "'3x32x32'"),
           qPrintable(dialog.problem()));
  QCOMPARE(start_requested.count(), 1);
}

// The Per channel step slider is in its tab: the other tabs do not show it, and the tab bar
// stays where it is when it shows.
void UiViewsTest::thePerChannelSliderLivesInItsTab() {
  SessionContext context;
  StatsHistory history;
  StatisticsView view(context, history);
  view.resize(900, 600);
  view.show();
  view.show_tab(StatisticsView::kOverSteps);
  QCoreApplication::processEvents();
  auto* tabs = view.findChild<QTabWidget*>();
  const auto tab_bar_at = [&] { return tabs->tabBar()->mapTo(&view, QPoint(0, 0)); };
  const auto before = tab_bar_at();
  view.on_kept_steps({10, 20, 30});
  QCoreApplication::processEvents();
  QCOMPARE(tab_bar_at(), before);
  QVERIFY(!view.step_slider()->isVisible());
  view.show_tab(StatisticsView::kPerChannel);
  QCoreApplication::processEvents();
  QVERIFY(view.step_slider()->isVisible());
  QVERIFY(tabs->currentWidget()->isAncestorOf(view.step_slider()));
  QCOMPARE(tab_bar_at(), before);
}

// At 1024x640 every panel has the room it needs (nothing is squeezed, the breakpoint panel's
// buttons are inside it); below, the window hides a dock rather than cutting controls, says
// so, and shows it again once it is large enough.
void UiViewsTest::theWindowWorksAt1024x640() {
  MainWindow window;
  window.resize(1024, 640);
  window.show();
  QVERIFY(QTest::qWaitForWindowExposed(&window));
  QCoreApplication::processEvents();
  QVERIFY2(window.minimumSizeHint().width() <= 1024 && window.minimumSizeHint().height() <= 640,
           qPrintable(QString("%1x%2")
                          .arg(window.minimumSizeHint().width())
                          .arg(window.minimumSizeHint().height())));
  auto& breakpoint = panel<BreakpointPanel>(window);
  const auto all_whole = [&] {
    for (QWidget* part : std::initializer_list<QWidget*>{
             &panel<ModuleTreePanel>(window), &breakpoint, &panel<StatisticsControls>(window)}) {
      if (part->isVisible() && !whole(*part)) return false;
    }
    for (auto* label : panel<StatisticsControls>(window).findChildren<QLabel*>()) {
      if (label->width() < label->minimumSizeHint().width()) return false;  // "statisti"
    }
    for (auto* button : breakpoint.findChildren<QPushButton*>()) {
      if (breakpoint.isVisible() && !breakpoint.rect().contains(button->geometry())) return false;
    }
    return true;
  };
  QVERIFY(all_whole());
  QCOMPARE(window.fit().text(), QString());
  auto* breakpoint_dock = window.findChild<QDockWidget*>("breakpoint");
  auto* wiring_dock = window.findChild<QDockWidget*>("wiring");
  window.resize(900, 600);  // held at the layout's minimum width until the docks are hidden
  QTRY_VERIFY(breakpoint_dock->isHidden() && wiring_dock->isHidden());
  window.resize(900, 600);
  QCOMPARE(window.fit().text(), QString("900x600 is below 1024x640: Breakpoint, Wiring hidden "
                                        "(View menu)"));
  QTRY_VERIFY(all_whole());
  window.resize(1280, 800);
  QTRY_VERIFY(!breakpoint_dock->isHidden() && !wiring_dock->isHidden());
  QCOMPARE(window.fit().text(), QString());
}

// A search expands the tree and the name column follows: deep rows show their names whole.
void UiViewsTest::searchResultsShowWholeNames() {
  SessionContext context;
  ModuleTreePanel tree(context);
  ModelSnapshot snapshot;
  std::string name;
  for (const auto* part : {"", "encoder", "stage_one", "block_zero", "a_rather_long_layer_name"}) {
    ModelModule module;
    name = name.empty() ? part : name + "." + part;
    module.name = name;
    module.type = "Sequential";
    module.depth = static_cast<int>(snapshot.modules.size());
    snapshot.modules.push_back(module);
  }
  tree.resize(400, 300);
  tree.show();
  tree.on_opened(snapshot);
  tree.search()->setText("long");
  QCoreApplication::processEvents();
  QVERIFY(tree.view()->isExpanded(tree.filter().index(0, 0)));
  // The deepest row's cell holds its whole name (an item view elides with "..." otherwise).
  QModelIndex deepest = tree.filter().index(0, 0);
  while (tree.filter().rowCount(deepest) > 0) deepest = tree.filter().index(0, 0, deepest);
  QCOMPARE(deepest.data().toString(), QString("a_rather_long_layer_name"));
  const int needed =
      tree.view()->fontMetrics().horizontalAdvance(deepest.data().toString()) + 6;  // + margins
  QVERIFY2(
      tree.view()->visualRect(deepest).width() >= needed,
      qPrintable(QString("%1 < %2").arg(tree.view()->visualRect(deepest).width()).arg(needed)));
}
