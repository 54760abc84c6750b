// SPDX-License-Identifier: GPL-3.0-or-later
#include <qcustomplot.h>

#include <QCheckBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QLineEdit>
#include <QProcess>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QTableView>
#include <QTest>
#include <QTreeView>
#include <filesystem>

#include "controller/engine_controller.h"
#include "image_files.h"
#include "panels/breakpoint_panel.h"
#include "panels/module_tree_panel.h"
#include "panels/statistics_view.h"
#include "panels/status_panel.h"
#include "panels/wiring_panel.h"
#include "plot/plot_tools.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/engine/session.h"
#include "replicascope/engine/wiring.h"
#include "replicascope/store/run_reader.h"
#include "replicascope/store/run_writer.h"
#include "replicascope/store/series.h"
#include "ui_tests.h"
#include "window/main_window.h"

using namespace replicascope;
using namespace replicascope::ui;

namespace {

SessionSetup demo_spec(int copies, int64_t batch) {
  SessionSetup setup;
  setup.spec.devices = "cpu:" + std::to_string(copies);
  setup.spec.batch = batch;
  setup.spec.data = "synthetic";
  setup.spec.seed = 3;
  setup.runs_dir = temp_path("runs");
  return setup;
}

ModelSnapshotPtr open_and_wait(EngineController& engine, const SessionSetup& spec) {
  QSignalSpy opened(&engine, &EngineController::opened);
  engine.open(spec);
  if (!opened.wait(kWaitMs)) return nullptr;
  return opened.takeFirst().at(0).value<ModelSnapshotPtr>();
}

std::vector<std::string> synchronized_layers(const ModelSnapshot& snapshot) {
  std::vector<std::string> out;
  for (const auto& m : snapshot.modules) {
    if (m.synchronized) out.push_back(m.name);
  }
  return out;
}

StepRecordPtr step_and_wait(EngineController& engine) {
  QSignalSpy stepped(&engine, &EngineController::stepped);
  engine.step(1);
  if (!stepped.wait(kWaitMs)) return nullptr;
  return stepped.takeFirst().at(0).value<StepRecordPtr>();
}

}  // namespace

void UiEngineTest::steppingUpdatesThePlots() {
  MainWindow window;
  window.configure("cpu:2", 16, /*synthetic=*/true, false);
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_demo();
  QVERIFY(opened.wait(kWaitMs));
  QCOMPARE(panel<ModuleTreePanel>(window).model().rowCount(), 1);
  QCOMPARE(panel<WiringPanel>(window).wiring_model().columnCount(), WiringModel::kFixedColumns + 2);
  QSignalSpy stepped(&window.context(), &SessionContext::stepped);
  window.context().step(3);
  QTRY_COMPARE_WITH_TIMEOUT(stepped.count(), 3, kWaitMs);
  QTRY_VERIFY_WITH_TIMEOUT(!window.context().history().awaiting(), kWaitMs);
  QTRY_VERIFY_WITH_TIMEOUT(!window.context().running(), kWaitMs);
  auto* view = &panel<StatisticsView>(window);
  view->show_tab(StatisticsView::kOverSteps);
  view->replot_now();
  auto* plot = view->plot(StatisticsView::kOverSteps);
  // Copies 0 and 1, synchronized and running, channel 0: three steps each.
  QCOMPARE(plot->graphCount(), 4);
  for (int g = 0; g < plot->graphCount(); ++g) QCOMPARE(plot->graph(g)->dataCount(), 3);
  view->show_tab(StatisticsView::kDivergence);
  QCOMPARE(view->plot(StatisticsView::kDivergence)->graphCount(), 3);  // the demo's 3 layers
  view->show_tab(StatisticsView::kPerChannel);
  QVERIFY(view->plot(StatisticsView::kPerChannel)->graphCount() >= 3);
  QVERIFY2(panel<StatusPanel>(window).text().contains("step 3"),
           qPrintable(panel<StatusPanel>(window).text()));
  // Selecting another layer in the tree moves the wiring grid and the plot with it.
  const auto layer = synchronized_layers(*opened.at(0).at(0).value<ModelSnapshotPtr>()).back();
  window.context().select(layer);
  QCOMPARE(window.context().history().selection().layer, layer);
  QTRY_VERIFY_WITH_TIMEOUT(!window.context().history().awaiting(), kWaitMs);
  QCOMPARE(window.context().history().series().front().steps.size(),
           size_t{3});  // from the run file
  const auto row = panel<WiringPanel>(window).currentIndex().row();
  QCOMPARE(panel<WiringPanel>(window)
               .wiring_model()
               .index(row, 0)
               .data(WiringModel::kModuleRole)
               .toString(),
           QString::fromStdString(layer));
  // And the other way round: a row of the wiring grid selects its module in the tree.
  const int first_row = panel<WiringPanel>(window).wiring_model().row_of(QString::fromStdString(
      synchronized_layers(*opened.at(0).at(0).value<ModelSnapshotPtr>()).front()));
  panel<WiringPanel>(window).setCurrentIndex(
      panel<WiringPanel>(window).wiring_model().index(first_row, 0));
  QCOMPARE(panel<ModuleTreePanel>(window)
               .view()
               ->currentIndex()
               .data(ModuleTreeModel::kQualifiedNameRole)
               .toString(),
           panel<WiringPanel>(window)
               .wiring_model()
               .index(first_row, 0)
               .data(WiringModel::kModuleRole)
               .toString());
  // The tracer reads the line under the cursor.
  view->show_tab(StatisticsView::kLoss);
  auto* loss = view->plot(StatisticsView::kLoss);
  const QPointF at(loss->xAxis->coordToPixel(2),
                   loss->yAxis->coordToPixel(loss->graph(0)->data()->at(1)->value));
  QVERIFY(view->tracer(StatisticsView::kLoss)->trace_at(at));
  QVERIFY2(view->tracer(StatisticsView::kLoss)->text().startsWith("loss\nstep 2:"),
           qPrintable(view->tracer(StatisticsView::kLoss)->text()));
}

// What a viewer is told, counted (a panel that draws redraws on each on_history_changed).
struct CountingViewer : SessionViewer {
  int history_changed = 0;
  int selection_changed = 0;
  void on_history_changed() override { ++history_changed; }
  void on_selection_changed(const std::string&) override { ++selection_changed; }
};

// A click on a layer is one selection: one series request to the engine thread (one new view
// of the history) and one redraw, when its answer comes; none before it. The statistic and
// channels the controls chose stay with the context and go with the new layer.
void UiEngineTest::aClickOnALayerIsOneRequestAndOneRedraw() {
  MainWindow window;
  window.configure("cpu:2", 16, /*synthetic=*/true, false);
  auto& context = window.context();
  QSignalSpy opened(&context, &SessionContext::opened);
  window.open_demo();
  QVERIFY(opened.wait(kWaitMs));
  QSignalSpy stepped(&context, &SessionContext::stepped);
  context.step(2);
  QTRY_COMPARE_WITH_TIMEOUT(stepped.count(), 2, kWaitMs);
  QTRY_VERIFY_WITH_TIMEOUT(!context.running() && !context.history().awaiting(), kWaitMs);
  auto values = context.plotted();
  values.statistic = Statistic::kVar;
  context.plot_values(values);
  QTRY_VERIFY_WITH_TIMEOUT(!context.history().awaiting(), kWaitMs);

  CountingViewer counter;
  context.add_viewer(&counter);
  const auto views_before = context.history().view();
  const auto layer = synchronized_layers(*opened.at(0).at(0).value<ModelSnapshotPtr>()).back();
  QVERIFY(layer != context.plotted().layer);
  // The click, as the module tree makes it.
  auto& tree = panel<ModuleTreePanel>(window);
  tree.view()->setCurrentIndex(tree.filter().mapFromSource(tree.model().index_of(layer)));
  QCOMPARE(counter.selection_changed, 1);
  QCOMPARE(counter.history_changed, 0);                  // nothing drawn before the answer
  QCOMPARE(context.history().view(), views_before + 1);  // one request
  QVERIFY(context.history().awaiting());
  QTRY_VERIFY_WITH_TIMEOUT(!context.history().awaiting(), kWaitMs);
  QCOMPARE(counter.history_changed, 1);  // one redraw, with the answer
  QCOMPARE(context.history().view(), views_before + 1);
  QCOMPARE(context.history().selection().layer, layer);
  QCOMPARE(context.history().selection().statistic, Statistic::kVar);
  QCOMPARE(context.history().series().front().steps.size(), size_t{2});
  // A module without statistics (the model's root) changes the selection, not the plots.
  context.select("");
  QCOMPARE(counter.selection_changed, 2);
  QCOMPARE(context.history().view(), views_before + 1);
  QCOMPARE(context.plotted().layer, layer);
  context.remove_viewer(&counter);
}

void UiEngineTest::breakpointPausesAndContinuingChangesNothing() {
  EngineController plain;
  const auto snapshot = open_and_wait(plain, demo_spec(3, 12));
  QVERIFY(snapshot);
  const auto layers = synchronized_layers(*snapshot);
  QCOMPARE(layers.size(), size_t{3});
  const auto expected = step_and_wait(plain);
  QVERIFY(expected);

  EngineController paused;
  QVERIFY(open_and_wait(paused, demo_spec(3, 12)));
  paused.setBreakpoints({layers[1]});
  QSignalSpy hits(&paused, &EngineController::paused);
  QSignalSpy stepped(&paused, &EngineController::stepped);
  paused.step(1);
  QVERIFY(hits.wait(kWaitMs));
  QVERIFY(paused.isPaused());
  QCOMPARE(stepped.count(), 0);  // the step waits at the rendezvous
  const auto hit = hits.takeFirst().at(0).value<BreakpointHitPtr>();
  QCOMPARE(hit->step, int64_t{1});
  QCOMPARE(hit->stats.layer, layers[1]);
  QCOMPARE(hit->stats.copies.size(), size_t{3});
  // The reduced result is the count-weighted mean of the copies' messages.
  int64_t total = 0;
  for (const auto& c : hit->stats.copies) total += c.count;
  QCOMPARE(total, hit->stats.count);
  for (size_t ch = 0; ch < hit->stats.mean.size(); ++ch) {
    double sum = 0;
    for (const auto& c : hit->stats.copies) sum += c.mean[ch] * c.count;
    QVERIFY(std::abs(sum / total - hit->stats.mean[ch]) < 1e-9);
  }
  // The panel shows a row per channel: each copy's mean and var, then the reduced ones, with
  // the counts in the headers.
  SessionContext context;
  BreakpointPanel shown(context);
  shown.on_paused(*hit);
  auto* table = shown.table();
  QCOMPARE(table->rowCount(), static_cast<int>(hit->stats.mean.size()));
  QCOMPARE(table->columnCount(), 8);
  const int last = table->rowCount() - 1;
  QCOMPARE(table->item(last, 2)->text(), QString::number(hit->stats.copies[1].mean[last], 'g', 6));
  QCOMPARE(table->item(last, 3)->text(), QString::number(hit->stats.copies[1].var[last], 'g', 6));
  QCOMPARE(table->item(0, 6)->text(), QString::number(hit->stats.mean[0], 'g', 6));
  QCOMPARE(table->item(0, 7)->text(), QString::number(hit->stats.var[0], 'g', 6));
  QVERIFY(table->horizontalHeaderItem(6)->text().contains(QString("n=%1").arg(hit->stats.count)));
  QCOMPARE(table->verticalHeaderItem(last)->text(), QString("channel %1").arg(last));
  // Once the copies go on, the pause's values are gone from the panel.
  shown.on_resumed();
  QCOMPARE(table->rowCount(), 0);

  paused.resume(engine::ResumeMode::kContinue);
  QVERIFY(stepped.wait(kWaitMs));
  const auto got = stepped.takeFirst().at(0).value<StepRecordPtr>();
  QCOMPARE(got->loss, expected->loss);
  QCOMPARE(got->layers.size(), expected->layers.size());
  for (size_t l = 0; l < got->layers.size(); ++l) {
    QCOMPARE(got->layers[l].mean, expected->layers[l].mean);
    QCOMPARE(got->layers[l].var, expected->layers[l].var);
    QCOMPARE(got->layers[l].running_mean, expected->layers[l].running_mean);
  }
  QCOMPARE(hits.count(), 0);
}

void UiEngineTest::stopWhilePausedReleasesEveryCopy() {
  auto engine = std::make_unique<EngineController>();
  const auto snapshot = open_and_wait(*engine, demo_spec(4, 16));
  QVERIFY(snapshot);
  engine->setBreakpoints({synchronized_layers(*snapshot).front()});
  QSignalSpy hits(engine.get(), &EngineController::paused);
  QSignalSpy stepped(engine.get(), &EngineController::stepped);
  QSignalSpy running(engine.get(), &EngineController::runningChanged);
  engine->run();
  QVERIFY(hits.wait(kWaitMs));
  engine->stop();
  QVERIFY(stepped.wait(kWaitMs));  // the paused step finishes
  QTRY_VERIFY_WITH_TIMEOUT(!engine->running(), kWaitMs);
  QCOMPARE(stepped.count(), 1);
  QCOMPARE(hits.count(), 1);  // no further pause in that step
  // Paused again, then destroyed: the destructor releases the copies and joins the thread.
  engine->step(1);
  QVERIFY(hits.wait(kWaitMs));
  engine.reset();
}

void UiEngineTest::runToEndOfBatchStopsThere() {
  EngineController engine;
  const auto snapshot = open_and_wait(engine, demo_spec(2, 8));
  QVERIFY(snapshot);
  engine.setBreakpoints({synchronized_layers(*snapshot).front()});
  QSignalSpy hits(&engine, &EngineController::paused);
  QSignalSpy stepped(&engine, &EngineController::stepped);
  engine.run();  // run on, step after step
  QVERIFY(hits.wait(kWaitMs));
  engine.resume(engine::ResumeMode::kEndOfBatch);
  QVERIFY(stepped.wait(kWaitMs));
  QTRY_VERIFY_WITH_TIMEOUT(!engine.running(), kWaitMs);
  QTest::qWait(300);  // a step that began anyway would pause or arrive now
  QCOMPARE(stepped.count(), 1);
  QCOMPARE(hits.count(), 1);
  QVERIFY(!engine.isPaused());
}

void UiEngineTest::aNewerSeriesRequestReplacesAQueuedOne() {
  EngineController engine;
  const auto snapshot = open_and_wait(engine, demo_spec(2, 8));
  QVERIFY(snapshot);
  const auto layers = synchronized_layers(*snapshot);
  engine.setBreakpoints({layers[0]});
  QSignalSpy hits(&engine, &EngineController::paused);
  QSignalSpy replies(&engine, &EngineController::seriesReady);
  engine.step(1);
  QVERIFY(hits.wait(kWaitMs));  // the engine thread is inside the step: requests queue up
  for (int generation = 1; generation <= 3; ++generation) {
    SeriesRequest request;
    request.generation = generation;
    request.selection.layer = layers[generation % layers.size()];
    engine.requestSeries(request);
  }
  QCOMPARE(engine.pendingRequests(), size_t{1});  // the newest replaced the queued ones
  QCOMPARE(replies.count(), 0);
  engine.resume(engine::ResumeMode::kContinue);
  QVERIFY(replies.wait(kWaitMs));
  // The step chain ends after the series request; its signal comes after the reply's.
  QTRY_VERIFY_WITH_TIMEOUT(!engine.running(), kWaitMs);
  QCOMPARE(replies.count(), 1);  // only the newest was served
  const auto reply = replies.at(0).at(0).value<SeriesReplyPtr>();
  QCOMPARE(reply->generation, 3);
  QVERIFY2(reply->error.isEmpty(), qPrintable(reply->error));
  QVERIFY(!reply->series.empty());  // layers[0]'s step is in the run file
  QCOMPARE(reply->series.front().steps, (std::vector<double>{1}));
}

void UiEngineTest::redrawsAreThrottled() {
  SessionContext context;
  StatisticsView view(context);
  const int before = view.replots();
  QElapsedTimer timer;
  timer.start();
  while (timer.elapsed() < 400) {
    view.schedule_replot();  // a burst of steps asking for redraws
    QTest::qWait(1);
  }
  QTRY_VERIFY(!view.replot_scheduled());  // the last request's redraw came
  const int replots = view.replots() - before;
  QVERIFY(replots >= 2);
  QVERIFY2(replots <= 400 / StatisticsView::kMinReplotIntervalMs + 2,
           qPrintable(QString::number(replots)));
}

void UiEngineTest::openingARecordedRunShowsItsHistory() {
  const auto path = record_demo_run("recorded.sqlite", 0.05);
  MainWindow window;
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_file(path);
  QVERIFY(opened.wait(kWaitMs));
  // The model's own tree and wiring, from the tables the run kept.
  const auto layer = panel<ModuleTreePanel>(window).model().index_of("features.1");
  QVERIFY(layer.isValid());
  QCOMPARE(layer.parent(), panel<ModuleTreePanel>(window).model().index_of("features"));
  QCOMPARE(layer.siblingAtColumn(ModuleTreeModel::kType).data().toString(),
           QString("SynchronizedBatchNorm2d"));
  QCOMPARE(panel<WiringPanel>(window).wiring_model().columnCount(), WiringModel::kFixedColumns + 2);
  QCOMPARE(panel<WiringPanel>(window).wiring_model().problem_count(), 0);
  QCOMPARE(window.context().history().selection().layer, std::string("features.1"));
  QVERIFY2(panel<StatusPanel>(window).text().contains("step 4 (recorded)"),
           qPrintable(panel<StatusPanel>(window).text()));
  QCOMPARE(window.context().history().steps().size(), size_t{4});
  QCOMPARE(window.context().history().divergence().size(), size_t{3});
  QTRY_VERIFY_WITH_TIMEOUT(!window.context().history().awaiting(), kWaitMs);
  QCOMPARE(window.context().history().series().front().steps.size(), size_t{4});
  // Overlaying the run on itself draws every line twice, the compared ones faded.
  const auto& history = window.context().history();
  window.context().compare_with({path});
  QTRY_VERIFY_WITH_TIMEOUT(!history.awaiting(), kWaitMs);
  QCOMPARE(history.compared().size(), size_t{1});
  QCOMPARE(history.compared()[0].overlay.size(), history.series().size());
  panel<StatisticsView>(window).replot_now();
  QCOMPARE(panel<StatisticsView>(window).plot(StatisticsView::kOverSteps)->graphCount(),
           static_cast<int>(2 * history.series().size()));
  // Every tab compares: the Loss tab draws the other run's loss and accuracy, the Divergence
  // tab its selected layer, each named by the run's file.
  QTRY_COMPARE_WITH_TIMEOUT(history.compared()[0].steps.size(), size_t{4}, kWaitMs);
  auto& view = panel<StatisticsView>(window);
  view.show_tab(StatisticsView::kLoss);
  QCOMPARE(view.current_plot()->graphCount(), 4);
  QCOMPARE(view.current_plot()->graph(2)->name(), QString("recorded: loss"));
  QCOMPARE(view.current_plot()->graph(2)->dataCount(), 4);
  view.show_tab(StatisticsView::kDivergence);
  QCOMPARE(view.current_plot()->graphCount(), 3 + 1);
  QCOMPARE(view.current_plot()->graph(3)->name(), QString("recorded: features.1"));
  QVERIFY(view.plot(StatisticsView::kOverSteps)->graph(0)->name().startsWith("recorded: "));
  // A second run is drawn beside the first, named by its file, in a dash pattern of its own.
  const auto other = record_demo_run("other.sqlite", 0.02, 6);
  window.context().compare_with({other});
  QTRY_VERIFY_WITH_TIMEOUT(!history.awaiting(), kWaitMs);
  QCOMPARE(history.compared().size(), size_t{2});
  QTRY_COMPARE_WITH_TIMEOUT(history.compared()[1].steps.size(), size_t{6}, kWaitMs);
  QCOMPARE(history.compared()[0].steps.size(), size_t{4});  // the first is still there
  view.show_tab(StatisticsView::kLoss);
  QCOMPARE(view.current_plot()->graphCount(), 6);
  QCOMPARE(view.current_plot()->graph(4)->name(), QString("other: loss"));
  QCOMPARE(view.current_plot()->graph(4)->dataCount(), 6);
  QVERIFY(view.current_plot()->graph(2)->pen().style() !=
          view.current_plot()->graph(4)->pen().style());
  view.show_tab(StatisticsView::kDivergence);
  QCOMPARE(view.current_plot()->graphCount(), 3 + 2);
  QCOMPARE(view.current_plot()->graph(4)->name(), QString("other: features.1"));
  view.show_tab(StatisticsView::kOverSteps);
  QCOMPARE(view.current_plot()->graphCount(), static_cast<int>(3 * history.series().size()));
  QVERIFY(view.current_plot()
              ->graph(static_cast<int>(history.series().size()))
              ->name()
              .startsWith("other: "));
  // Per channel at a kept step draws both compared runs at that step too, faded and named.
  view.show_tab(StatisticsView::kPerChannel);
  view.step_slider()->setValue(1);  // step 2
  QTRY_VERIFY_WITH_TIMEOUT(
      history.latest() && history.latest()->step == 2 && history.latest_compared().size() == 2,
      kWaitMs);
  view.replot_now();
  const auto keys = static_cast<int>(history.latest()->layers.front().keys().size());
  QCOMPARE(view.current_plot()->graphCount(), 3 * keys);
  const auto names = graph_names(*view.current_plot());
  QVERIFY2(names.contains("recorded: copy 0") && names.contains("other: synchronized") &&
               names.contains("copy 1"),
           qPrintable(names.join(", ")));
  window.context().compare_with({});
  view.show_tab(StatisticsView::kDivergence);
  view.replot_now();
  QCOMPARE(view.current_plot()->graphCount(), 3);
}

// A recorded run is shown as what it is: its file, its own devices, batch and BatchNorm in the
// title (the toolbar keeps the next session's), its whole-batch line not called "synchronized"
// when it was not. Only files that opened go to Recent files.
void UiEngineTest::aRecordedRunShowsItsOwnSettings() {
  const auto path = record_demo_run("unsync.sqlite", 0.05, 2, {}, /*synchronized=*/false);
  QSettings().remove("recent");
  MainWindow window;
  auto& context = window.context();
  QSignalSpy opened(&context, &SessionContext::opened);
  window.open_file(path);
  QVERIFY(opened.wait(kWaitMs));
  QVERIFY2(window.windowTitle() ==
               "ReplicaScope - unsync.sqlite (a run of demo: cpu:2, batch 8, per-copy BN)",
           qPrintable(window.windowTitle()));
  QTRY_VERIFY_WITH_TIMEOUT(!window.context().history().awaiting(), kWaitMs);
  auto& view = panel<StatisticsView>(window);
  view.show_tab(StatisticsView::kOverSteps);
  view.replot_now();
  const auto names = graph_names(*view.current_plot());
  QVERIFY2(names.contains("whole batch (unused: per-copy BN)") &&
               !names.join(' ').contains("synchronized"),
           qPrintable(names.join(", ")));
  // A file that fails to open does not go to Recent files; the one that opened does.
  const auto broken = temp_path("broken.sqlite");
  {
    QFile file(broken);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("not a database");
  }
  QSignalSpy failed(&context, &SessionContext::failed);
  window.open_file(broken);
  QVERIFY(failed.wait(kWaitMs));
  const auto recent = QSettings().value("recent").toStringList();
  QCOMPARE(recent, QStringList{QFileInfo(path).absoluteFilePath()});
  QVERIFY2(window.windowTitle().contains("unsync.sqlite"), "the run that was open stays open");
}

// A run that another process is writing (replicascope-cli train --run) is followed: opened while
// it trains, every step it writes reaches the plots, the status says "following" meanwhile.
void UiEngineTest::aRunBeingWrittenIsFollowed() {
  const auto path = temp_path("followed.sqlite");
  constexpr int kSteps = 600;
  QProcess train;
  start_recording_training(train, path, kSteps);
  const auto readable = [&path] {
    try {
      store::RunReader run(path.toStdString());
      return true;
    } catch (const std::exception&) {
      return false;  // not made yet
    }
  };
  // Opened as soon as it exists, often before its first step: the first layer with statistics
  // is selected once it has one.
  QTRY_VERIFY_WITH_TIMEOUT(readable(), kWaitMs);
  struct FollowWatch : SessionViewer {
    bool seen = false;
    void on_following_changed(bool on) override { seen = seen || on; }
  } watch;
  MainWindow window;
  window.context().add_viewer(&watch);
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_file(path);
  QVERIFY(opened.wait(kWaitMs));
  const auto at_open = window.context().history().steps().size();
  QVERIFY(train.waitForFinished(kWaitMs));
  QCOMPARE(train.exitCode(), 0);
  QVERIFY2(at_open < size_t{kSteps}, "the training ended before the run was opened");
  QTRY_COMPARE_WITH_TIMEOUT(window.context().history().steps().size(), size_t{kSteps}, 30000);
  QVERIFY(watch.seen);
  // The plotted layer's series and the status bar follow too.
  QTRY_VERIFY_WITH_TIMEOUT(!window.context().history().awaiting(), kWaitMs);
  QTRY_COMPARE_WITH_TIMEOUT(window.context().history().series().front().steps.size(),
                            size_t{kSteps}, 30000);
  QVERIFY2(panel<StatusPanel>(window).text().contains(QString("step %1").arg(kSteps)),
           qPrintable(panel<StatusPanel>(window).text()));
  window.context().remove_viewer(&watch);
}

// A session opened and never trained leaves no run file; each Reset starts a new one at its first
// step. Before the first step the plots ask for series and get none, without an error.
void UiEngineTest::anUntrainedSessionLeavesNoRunFile() {
  auto setup = demo_spec(2, 8);
  setup.runs_dir = temp_path("lazy-runs");
  QDir(setup.runs_dir).removeRecursively();
  const auto runs = [&setup] {
    return QDir(setup.runs_dir).entryList({"*.sqlite"}, QDir::Files, QDir::Name);
  };
  EngineController engine;
  const auto snapshot = open_and_wait(engine, setup);
  QVERIFY(snapshot);
  QCOMPARE(runs(), QStringList{});
  QSignalSpy replies(&engine, &EngineController::seriesReady);
  SeriesRequest request;
  request.generation = 1;
  request.selection.layer = synchronized_layers(*snapshot).front();
  engine.requestSeries(request);
  QVERIFY(replies.wait(kWaitMs));
  const auto reply = replies.takeFirst().at(0).value<SeriesReplyPtr>();
  QVERIFY2(reply->error.isEmpty(), qPrintable(reply->error));
  QVERIFY(reply->series.empty());
  QVERIFY(step_and_wait(engine));
  QTRY_VERIFY_WITH_TIMEOUT(!engine.running(), kWaitMs);
  QCOMPARE(runs().size(), 1);
  QSignalSpy reset(&engine, &EngineController::sessionReset);
  engine.reset();
  QVERIFY(reset.wait(kWaitMs));
  QCOMPARE(runs().size(), 1);  // the new run's file comes with its first step
  QVERIFY(step_and_wait(engine));
  QTRY_VERIFY_WITH_TIMEOUT(!engine.running(), kWaitMs);
  const auto files = runs();
  QCOMPARE(files.size(), 2);
  for (const auto& file : files) {
    const store::RunReader run(QDir(setup.runs_dir).filePath(file).toStdString());
    QCOMPARE(run.steps().size(), size_t{1});
  }
}

// A model without BatchNorm trains in the GUI as on the command line, with nothing to record:
// its steps leave no run file (one would hold no statistics and the run list would show it).
void UiEngineTest::aModelWithoutBatchNormTrainsAndRecordsNothing() {
  auto setup = demo_spec(2, 8);
  setup.spec.model = fixture("no_batchnorm.pt").toStdString();
  setup.spec.image = {16};
  setup.spec.classes = 4;
  setup.runs_dir = temp_path("unrecorded-runs");
  QDir(setup.runs_dir).removeRecursively();
  EngineController engine;
  QVERIFY(open_and_wait(engine, setup));
  QSignalSpy stepped(&engine, &EngineController::stepped);
  QVERIFY(step_and_wait(engine));
  QTRY_VERIFY_WITH_TIMEOUT(!engine.running(), kWaitMs);
  QCOMPARE(stepped.size(), 1);
  QCOMPARE(QDir(setup.runs_dir).entryList({"*.sqlite"}, QDir::Files), QStringList{});
}

// A run that kept every channel for a sample of its steps opens on the means over channels (every
// step, drawn as lines); a channel's kept steps are drawn as points; the step slider moves the
// Per-channel view between the kept steps, with the values the file has. A run that kept every
// step opens on its channels as before.
void UiEngineTest::aSampledRunShowsSummariesAndItsKeptSteps() {
  const auto sampled = record_demo_run("sampled.sqlite", 0.05, 20, {5, 1});
  const auto all = record_demo_run("all.sqlite", 0.05, 20, {store::DetailOptions::kAll, 1});
  const store::RunReader run(sampled.toStdString());
  const auto kept = run.detail_steps();
  QVERIFY(kept.size() <= 5 && kept.size() >= 3);
  MainWindow window;
  auto& view = panel<StatisticsView>(window);
  const auto& history = window.context().history();
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_file(sampled);
  QVERIFY(opened.wait(kWaitMs));
  QTRY_VERIFY_WITH_TIMEOUT(!history.awaiting(), kWaitMs);
  QVERIFY(history.selection().over_channels);
  QCOMPARE(history.series().size(), size_t{4});  // 2 copies, synchronized, running
  for (const auto& s : history.series()) {
    QCOMPARE(s.steps.size(), size_t{20});
    QVERIFY(!s.sparse());
  }
  view.replot_now();
  QCOMPARE(view.plot(StatisticsView::kOverSteps)->graph(0)->lineStyle(), QCPGraph::lsLine);
  // The slider: one position per kept step, at the last; the Per-channel view draws it.
  QCOMPARE(view.kept_steps(), kept);
  QVERIFY(!view.step_slider()->isHidden());
  QCOMPARE(view.step_slider()->maximum(), static_cast<int>(kept.size()) - 1);
  const auto check_step = [&](int64_t step) {
    QTRY_VERIFY_WITH_TIMEOUT(history.latest() && history.latest()->step == step, kWaitMs);
    const auto expected = store::layer_at_step(run, "features.1", 0, step);
    QVERIFY(expected);
    const auto& shown = history.latest()->layers.at(0);
    QCOMPARE(shown.layer, std::string("features.1"));
    QCOMPARE(shown.copies.size(), size_t{2});
    QCOMPARE(shown.copies[1].mean, expected->copies[1].mean);
    QCOMPARE(shown.var, expected->var);
  };
  check_step(kept.back());
  view.step_slider()->setValue(0);
  check_step(kept.front());
  view.show_tab(StatisticsView::kPerChannel);
  view.replot_now();
  QVERIFY(view.plot(StatisticsView::kPerChannel)->graphCount() >= 3);
  // One channel: the kept steps only, as points.
  auto selection = history.selection();
  selection.over_channels = false;
  window.context().plot_values(selection);
  QTRY_VERIFY_WITH_TIMEOUT(!history.awaiting(), kWaitMs);
  QCOMPARE(history.series().front().steps.size(), kept.size());
  QVERIFY(history.series().front().sparse());
  view.show_tab(StatisticsView::kOverSteps);
  view.rebuild_now();
  QCOMPARE(view.plot(StatisticsView::kOverSteps)->graph(0)->lineStyle(), QCPGraph::lsNone);

  window.open_file(all);
  QVERIFY(opened.wait(kWaitMs));
  QTRY_VERIFY_WITH_TIMEOUT(!history.awaiting(), kWaitMs);
  QVERIFY(!history.selection().over_channels);
  QCOMPARE(history.series().front().steps.size(), size_t{20});
  QCOMPARE(view.kept_steps().size(), size_t{20});
}

// A training that diverged (recorded by the CLI with --lr 1e30, say) opens, and the status bar
// says from which step on it is not finite, in red; a run without NaN says nothing of it.
void UiEngineTest::aDivergedRunIsMarkedInTheStatusBar() {
  const auto path = record_demo_run("diverged.sqlite", 1e30);
  const store::RunReader run(path.toStdString());
  int64_t first = 0;
  for (const auto& step : run.steps()) {
    if (!step.nonfinite.empty() && !first) first = step.step;
  }
  QVERIFY2(first > 0, "the training did not diverge");
  MainWindow window;
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_file(path);
  QVERIFY(opened.wait(kWaitMs));
  const auto text = panel<StatusPanel>(window).text();
  QVERIFY2(text.contains(QString("(not finite since step %1: loss").arg(first)), qPrintable(text));
}

// A DistributedDataParallel training recorded by the Python recorder (python/examples/ddp_gloo.py:
// 2 processes over Gloo, plain BatchNorm, Debian's python3-torch) opens with both ranks: a wiring
// column per rank, a line per rank beside the synchronized one, and each rank's running ones.
void UiEngineTest::aPythonDdpRunShowsItsRanks() {
  const auto path = temp_path("python_ddp.sqlite");
  QFile::remove(path);
  QProcess python;
  python.setProcessChannelMode(QProcess::MergedChannels);
  python.start(
      REPLICASCOPE_PYTHON,
      {QString(REPLICASCOPE_SOURCE_DIR) + "/python/examples/ddp_gloo.py", path, "--steps", "3"});
  QVERIFY(python.waitForFinished(300000));
  QVERIFY2(python.exitCode() == 0, python.readAll().constData());
  MainWindow window;
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_file(path);
  QVERIFY(opened.wait(kWaitMs));
  const auto& wiring = panel<WiringPanel>(window).wiring_model();
  QCOMPARE(wiring.columnCount(), WiringModel::kFixedColumns + 2);
  QCOMPARE(wiring.problem_count(), 0);
  const auto header = wiring.headerData(WiringModel::kFixedColumns + 1, Qt::Horizontal).toString();
  QVERIFY2(header.startsWith("rank 1"), qPrintable(header));
  QCOMPARE(window.context().history().steps().size(), size_t{3});
  QTRY_VERIFY_WITH_TIMEOUT(!window.context().history().awaiting(), kWaitMs);
  QStringList labels;
  for (const auto& series : window.context().history().series())
    labels << QString::fromStdString(series.key.label());
  QCOMPARE(labels, QStringList({"copy 0", "synchronized", "running", "rank 0", "rank 1",
                                "running, rank 1"}));
}

void UiEngineTest::badInputIsAnErrorNotACrash() {
  EngineController engine;
  QSignalSpy failed(&engine, &EngineController::failed);
  auto spec = demo_spec(2, 8);
  spec.spec.model = fixture("truncated.pt").toStdString();
  engine.open(spec);
  QVERIFY(failed.wait(kWaitMs));
  QVERIFY2(failed.at(0).at(0).toString().contains("truncated.pt"),
           qPrintable(failed.at(0).at(0).toString()));
  spec = demo_spec(2, 1);  // one sample cannot feed two copies
  engine.open(spec);
  QVERIFY(failed.wait(kWaitMs));
  QVERIFY2(failed.at(1).at(0).toString().contains("expected at least one sample per copy"),
           qPrintable(failed.at(1).at(0).toString()));
  engine.step(1);  // nothing open
  QVERIFY(failed.wait(kWaitMs));
  QVERIFY(failed.at(2).at(0).toString().contains("open a model first"));
  engine.openRun(fixture("mlp.pt"));  // not a run
  QVERIFY(failed.wait(kWaitMs));

  // A failed open keeps the session that was open: it still trains.
  QVERIFY(open_and_wait(engine, demo_spec(2, 8)));
  engine.open(spec);  // one sample for two copies
  QVERIFY(failed.wait(kWaitMs));
  QVERIFY(step_and_wait(engine));
  // A model that cannot take the data: one sentence that helps, and the session stays.
  spec = demo_spec(2, 8);
  spec.spec.model = fixture("resnet18.pt").toStdString();
  QSignalSpy open_failed(&engine, &EngineController::openFailed);
  engine.open(spec);
  QVERIFY(failed.wait(kWaitMs));
  QVERIFY2(failed.back().at(0).toString().startsWith(
               "conv1 expects 3 input channels; the data 'synthetic' has 1"),
           qPrintable(failed.back().at(0).toString()));
  QVERIFY(step_and_wait(engine));
  // The failure carries the session with data that fits, which the window's New session dialog
  // shows: the same model, devices and batch, with synthetic samples of the 3 channels it takes
  // at the data's 28x28 (a forward was seen to take them).
  QCOMPARE(open_failed.size(), 1);
  const auto proposed = open_failed.back().at(1).toStringList();
  QVERIFY2(proposed.join(' ').contains("--data synthetic --image 3,28,28"),
           qPrintable(proposed.join(' ')));
  spec.spec = session_from_flags(proposed);
  QCOMPARE(spec.spec.model, fixture("resnet18.pt").toStdString());
  QCOMPARE(spec.spec.devices, std::string("cpu:2"));
  // With data it can take, the same model opens and trains from the GUI's engine thread.
  QVERIFY(open_and_wait(engine, spec));
  const auto record = step_and_wait(engine);
  QVERIFY(record && std::isfinite(record->loss));
}

void UiEngineTest::aFixtureModelTrainsOnAnImageFolder() {
  // A folder as torchvision's ImageFolder lays it out, of Fashion-MNIST's images saved as RGB
  // PNGs; resnet18 (3-channel input) takes them scaled to 32x32.
  const auto dir = std::filesystem::path(temp_path("image_folder").toStdString());
  std::filesystem::remove_all(dir);
  replicascope::testing::make_image_folder(dir, 48, /*jpeg=*/false, /*rgb=*/true);
  EngineController engine;
  auto spec = demo_spec(2, 8);
  spec.spec.model = fixture("resnet18.pt").toStdString();
  spec.spec.data = "imagefolder:" + dir.string();
  spec.spec.image = {3, 32, 32};
  const auto snapshot = open_and_wait(engine, spec);
  QVERIFY(snapshot);
  for (int step = 1; step <= 3; ++step) {
    const auto record = step_and_wait(engine);
    QVERIFY(record && std::isfinite(record->loss));
    QCOMPARE(record->step, int64_t{step});
  }
  // A folder it cannot read is said, naming it, and the session stays.
  QSignalSpy failed(&engine, &EngineController::failed);
  spec.spec.data = "imagefolder:" + (dir / "missing").string();
  engine.open(spec);
  QVERIFY(failed.wait(kWaitMs));
  QVERIFY2(failed.back().at(0).toString().contains("missing': no such folder"),
           qPrintable(failed.back().at(0).toString()));
  QVERIFY(step_and_wait(engine));
  std::filesystem::remove_all(dir);
}

void UiEngineTest::aLiveSessionsPerChannelSliderStaysOnAKeptStep() {
  MainWindow window;
  window.configure("cpu:2", 8, /*synthetic=*/true, false);
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_demo();
  QVERIFY(opened.wait(kWaitMs));
  auto& view = panel<StatisticsView>(window);
  view.show_tab(StatisticsView::kPerChannel);
  QSignalSpy stepped(&window.context(), &SessionContext::stepped);
  window.context().step(5);
  QTRY_COMPARE_WITH_TIMEOUT(stepped.count(), 5, kWaitMs);
  // The run's kept steps are read as it trains: a short run keeps every step's channels, and
  // the slider's last position is the newest step.
  QTRY_COMPARE_WITH_TIMEOUT(view.kept_steps().size(), size_t{5}, kWaitMs);
  auto* slider = view.step_slider();
  QCOMPARE(slider->maximum(), 5);
  QCOMPARE(slider->value(), 5);
  const auto& history = window.context().history();
  QCOMPARE(history.latest()->step, int64_t{5});
  // Back to step 2: the view stays there while training goes on.
  slider->setValue(1);
  QTRY_COMPARE_WITH_TIMEOUT(history.latest()->step, int64_t{2}, kWaitMs);
  QCOMPARE(history.latest()->layers.front().layer, history.selection().layer);
  window.context().step(2);
  QTRY_COMPARE_WITH_TIMEOUT(stepped.count(), 7, kWaitMs);
  QCOMPARE(history.latest()->step, int64_t{2});
  // The last position follows the training again.
  QTRY_COMPARE_WITH_TIMEOUT(slider->maximum(), 7, kWaitMs);
  slider->setValue(slider->maximum());
  QCOMPARE(history.latest()->step, int64_t{7});
}

void UiEngineTest::screenshotOfTheDemo() {
  MainWindow window;
  // The main job's demo: Fashion-MNIST when installed, 4 copies.
  window.configure("cpu:4", 32, /*synthetic=*/false, false);
  window.resize(1400, 900);
  window.show();
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_demo();
  QVERIFY(opened.wait(kWaitMs));
  QSignalSpy stepped(&window.context(), &SessionContext::stepped);
  window.context().step(12);
  QTRY_COMPARE_WITH_TIMEOUT(stepped.count(), 12, kWaitMs);
  QTRY_VERIFY_WITH_TIMEOUT(!window.context().history().awaiting(), kWaitMs);
  panel<StatisticsView>(window).replot_now();
  const auto path = qEnvironmentVariableIsEmpty("REPLICASCOPE_SCREENSHOT")
                        ? temp_path("screenshot.png")
                        : qEnvironmentVariable("REPLICASCOPE_SCREENSHOT");
  window.save_screenshot(path);
  const QImage image(path);
  QCOMPARE(image.size(), window.size());
  // Not a blank window: the plot's lines and the panels' text give many colours.
  QSet<QRgb> colours;
  for (int y = 0; y < image.height(); y += 7) {
    for (int x = 0; x < image.width(); x += 7) colours.insert(image.pixel(x, y));
  }
  QVERIFY2(colours.size() > 20, qPrintable(QString::number(colours.size())));
}
