// SPDX-License-Identifier: GPL-3.0-or-later
// Every sync point visible (issue 30, section 2): a BatchNorm called twice a step (one module
// shared by two branches, a layer reused in a loop) has two sync points, and every view that
// shows a layer shows each: a call selector picks the call Over steps, Per channel and
// Divergence draw, the heatmap and the worst layers have a row per call, the module tree's
// tooltip says how many calls. A recorded run (views) and a live session of the reused_bn
// fixture (engine) alike.
#include <qcustomplot.h>

#include <QComboBox>
#include <QSignalSpy>
#include <QTest>
#include <QTreeView>

#include "panels/module_tree_panel.h"
#include "panels/statistics/statistics_tabs.h"
#include "panels/statistics/worst_layers_list.h"
#include "panels/statistics_view.h"
#include "plot/plot_tools.h"
#include "replicascope/store/run_writer.h"
#include "session/session_context.h"
#include "ui_tests.h"

using namespace replicascope;
using namespace replicascope::ui;

namespace {

// The shared layer's synchronized mean of channel 0 at its first and second call, and its
// running mean after each call's update (one buffer: the second call's update comes last).
constexpr double kFirstMean = 0.09, kSecondMean = -0.097;
constexpr double kRunningAfterFirst = 0.009, kRunningAfterSecond = -0.0016;

// One call of a layer of 2 channels on 2 copies: the synchronized mean is `mean` (channel 0)
// and `mean + 1` (channel 1), the copies 0.01 either side.
LayerStats call_of(const std::string& layer, int64_t sync_point, double mean, double running,
                   double divergence) {
  LayerStats stats;
  stats.layer = layer;
  stats.sync_point = sync_point;
  stats.count = 16;
  stats.copies = {{0, 8, {mean - 0.01, mean + 0.99}, {1.0, 1.0}},
                  {1, 8, {mean + 0.01, mean + 1.01}, {1.0, 1.0}}};
  stats.mean = {mean, mean + 1};
  stats.var = {1.0, 1.0};
  stats.running_mean = {running, running + 1};
  stats.running_var = {1.0, 1.0};
  stats.divergence = divergence;
  return stats;
}

// Steps 1-3 of a model whose "shared" BatchNorm is called twice a step (divergence 0.2 at the
// first call, 3 at the second) and whose "head" BatchNorm is called once (divergence 1).
QString record_two_call_run() {
  const auto path = temp_path("two_calls.sqlite");
  QFile::remove(path);
  store::RunModel model;
  model.modules = {{"", "Net", "__torch__.Net", 0, -1, -1, false, false},
                   {"shared", "BatchNorm2d", "torch.nn.BatchNorm2d", 1, -1, -1, true, true},
                   {"head", "BatchNorm2d", "torch.nn.BatchNorm2d", 1, -1, -1, true, true}};
  store::RunWriter writer(path.toStdString(), {}, model);
  for (int64_t step = 1; step <= 3; ++step) {
    StepRecord record;
    record.step = step;
    record.loss = 1.0;
    record.layers = {call_of("shared", 0, kFirstMean, kRunningAfterFirst, 0.2),
                     call_of("shared", 1, kSecondMean, kRunningAfterSecond, 3.0),
                     call_of("head", 0, 0.5, 0.05, 1.0)};
    writer.append(record);
  }
  return path;
}

// The values of the line named `name` in `plot` (empty when there is none).
std::vector<double> values_of(const QCustomPlot& plot, const QString& name) {
  for (int g = 0; g < plot.graphCount(); ++g) {
    if (plot.graph(g)->name() != name) continue;
    std::vector<double> values;
    for (auto it = plot.graph(g)->data()->constBegin(); it != plot.graph(g)->data()->constEnd();
         ++it)
      values.push_back(it->value);
    return values;
  }
  return {};
}

// Whether `value` is `expected`, within float32's rounding (a run keeps some values as float).
bool near(double value, double expected) {
  return std::abs(value - expected) <= 1e-6 * std::max(1.0, std::abs(expected));
}

// Whether every value is `expected` (and there are some).
bool all_are(const std::vector<double>& values, double expected) {
  return !values.empty() &&
         std::all_of(values.begin(), values.end(), [&](double v) { return near(v, expected); });
}

QString joined(const std::vector<double>& values) {
  QStringList texts;
  for (double v : values) texts << QString::number(v);
  return texts.join(", ");
}

// The view drawn now on `tab`.
QCustomPlot& drawn(StatisticsView& view, StatisticsView::Tab tab) {
  view.show_tab(tab);
  view.replot_now();
  return *view.plot(tab);
}

// A statistics view and a module tree over a context, shown.
struct Shown {
  SessionContext context;
  StatisticsView view{context};
  ModuleTreePanel tree{context};
  Shown() {
    view.resize(1000, 700);
    view.show();
    tree.show();
  }
  bool open_run(const QString& path) {
    QSignalSpy opened(&context, &SessionContext::opened);
    context.open_run(path);
    return opened.wait(kWaitMs);
  }
};

}  // namespace

void UiViewsTest::everySyncPointOfALayerIsShown() {
  Shown shown;
  QVERIFY(shown.open_run(record_two_call_run()));
  auto& view = shown.view;
  const auto& history = shown.context.history();
  QTRY_VERIFY_WITH_TIMEOUT(!history.awaiting() && history.selection().layer == "shared", kWaitMs);
  // The selector says there are two calls; the first is drawn.
  auto* calls = view.call_selector();
  QTRY_VERIFY(calls->isVisibleTo(&view));
  QCOMPARE(calls->count(), 2);
  QCOMPARE(calls->itemText(0), QString("call 1 of 2"));
  QCOMPARE(calls->itemText(1), QString("call 2 of 2"));
  QCOMPARE(calls->currentIndex(), 0);
  auto* over_steps = &drawn(view, StatisticsView::kOverSteps);
  auto plotted = values_of(*over_steps, "synchronized");
  QVERIFY2(all_are(plotted, kFirstMean), qPrintable(joined(plotted)));
  // Picking call 2 draws call 2's mean, and its running line says which update it is.
  calls->setCurrentIndex(1);
  QTRY_VERIFY_WITH_TIMEOUT(!history.awaiting() && history.selection().sync_point == 1, kWaitMs);
  QCOMPARE(shown.context.plotted().sync_point, int64_t{1});
  over_steps = &drawn(view, StatisticsView::kOverSteps);
  plotted = values_of(*over_steps, "synchronized");
  QCOMPARE(plotted.size(), size_t{3});
  QVERIFY2(all_are(plotted, kSecondMean), qPrintable(joined(plotted)));
  const auto running = values_of(*over_steps, "running (after call 2 of 2)");
  QVERIFY2(all_are(running, kRunningAfterSecond), qPrintable(graph_names(*over_steps).join(", ")));
  QVERIFY2(static_cast<StatisticsTab*>(over_steps)->title_text().startsWith("shared (call 2 of 2)"),
           qPrintable(static_cast<StatisticsTab*>(over_steps)->title_text()));
  // Per channel, at a kept step: call 2's channels.
  shown.context.show_channels_at(2);
  QTRY_VERIFY_WITH_TIMEOUT(history.latest() && history.latest()->step == 2, kWaitMs);
  plotted = values_of(drawn(view, StatisticsView::kPerChannel), "synchronized");
  QCOMPARE(plotted.size(), size_t{2});
  QVERIFY2(near(plotted[0], kSecondMean) && near(plotted[1], kSecondMean + 1),
           qPrintable(joined(plotted)));
  // Divergence: a line per call, the picked one bold.
  auto& divergence = drawn(view, StatisticsView::kDivergence);
  QCOMPARE(graph_names(divergence),
           (QStringList{"shared (call 1 of 2)", "shared (call 2 of 2)", "head"}));
  QVERIFY(all_are(values_of(divergence, "shared (call 1 of 2)"), 0.2));
  QVERIFY(all_are(values_of(divergence, "shared (call 2 of 2)"), 3.0));
  QCOMPARE(divergence.graph(1)->pen().widthF(), 2.5);
  QVERIFY(divergence.graph(0)->pen().widthF() < 2.5);
  // Its CSV names the layer once and the call in export's sync_point column, from 0.
  const auto csv = visible_csv(divergence).split('\n', Qt::SkipEmptyParts);
  QVERIFY2(csv.contains("shared,1,divergence,largest over copies and channels,,2,3"),
           qPrintable(csv.join('\n')));
  // The heatmap has a row per call; the worst list names the call.
  auto& heatmap = static_cast<HeatmapTab&>(drawn(view, StatisticsView::kHeatmap));
  auto* map = heatmap.map()->data();
  QCOMPARE(map->valueSize(), 3);
  QCOMPARE(map->data(2, 0), 0.2);
  QCOMPARE(map->data(2, 1), 3.0);
  QCOMPARE(map->data(2, 2), 1.0);
  const auto row_at = [&heatmap](int row) {
    return QPoint(static_cast<int>(heatmap.xAxis->coordToPixel(2)),
                  static_cast<int>(heatmap.yAxis->coordToPixel(row)));
  };
  QCOMPARE(heatmap.call_at(row_at(1).y()).name(), QString("shared (call 2 of 2)"));
  QCOMPARE(heatmap.call_at(row_at(2).y()).name(), QString("head"));
  auto* worst = view.worst_layers();
  QVERIFY2(worst->item(0)->text() == "1. shared (call 2 of 2)  3",
           qPrintable(worst->item(0)->text()));
  QVERIFY2(worst->item(2)->text() == "3. shared (call 1 of 2)  0.2",
           qPrintable(worst->item(2)->text()));
  // A click on call 1's row selects that call; the selector follows.
  QTest::mouseClick(&heatmap, Qt::LeftButton, {}, row_at(0));
  QCOMPARE(shown.context.plotted().sync_point, int64_t{0});
  QCOMPARE(calls->currentIndex(), 0);
  // ... and call 2's entry in the worst list selects call 2.
  QTest::mouseClick(worst->viewport(), Qt::LeftButton, {},
                    worst->visualItemRect(worst->item(0)).center());
  QCOMPARE(shown.context.plotted().sync_point, int64_t{1});
  QCOMPARE(calls->currentIndex(), 1);
  // The module tree says the layer is called twice a step, and only of that layer.
  auto& tree = shown.tree.model();
  const auto tooltip = [&tree](const char* name) {
    return tree.data(tree.index_of(name), Qt::ToolTipRole).toString();
  };
  QVERIFY2(tooltip("shared").contains("called 2 times per step"), qPrintable(tooltip("shared")));
  QVERIFY2(!tooltip("head").contains("called"), qPrintable(tooltip("head")));
}

void UiViewsTest::aLayerCalledOnceHasNoCallSelector() {
  Shown shown;
  QVERIFY(shown.open_run(record_two_call_run()));
  const auto& history = shown.context.history();
  QTRY_VERIFY_WITH_TIMEOUT(!history.awaiting() && history.selection().layer == "shared", kWaitMs);
  auto* calls = shown.view.call_selector();
  QTRY_VERIFY(calls->isVisibleTo(&shown.view));
  calls->setCurrentIndex(1);
  QTRY_VERIFY_WITH_TIMEOUT(!history.awaiting() && history.selection().sync_point == 1, kWaitMs);
  // Another layer, called once: no selector (hidden: it takes no room), its one call drawn, and
  // its lines named as ever.
  shown.context.select("head");
  QCOMPARE(shown.context.plotted().sync_point, int64_t{0});
  QTRY_VERIFY_WITH_TIMEOUT(!history.awaiting(), kWaitMs);
  QVERIFY(!calls->isVisibleTo(&shown.view));
  QCOMPARE(calls->count(), 0);
  auto& over_steps = drawn(shown.view, StatisticsView::kOverSteps);
  QVERIFY(!calls->isVisibleTo(&shown.view));
  QVERIFY(all_are(values_of(over_steps, "synchronized"), 0.5));
  QVERIFY(graph_names(over_steps).contains("running"));
  QVERIFY2(static_cast<StatisticsTab&>(over_steps).title_text().startsWith("head: mean"),
           qPrintable(static_cast<StatisticsTab&>(over_steps).title_text()));
  // The tree's row of the layer says nothing of calls.
  QVERIFY(!shown.tree.model()
               .data(shown.tree.model().index_of("head"), Qt::ToolTipRole)
               .toString()
               .contains("called"));
}

// The reused_bn fixture calls its BatchNorm "bn" twice in each forward: trained 2 steps live,
// both calls reach the views, and picking call 2 draws the second call's synchronized mean.
void UiEngineTest::aSharedBatchNormShowsBothCallsLive() {
  SessionSetup setup;
  setup.spec.model = fixture("reused_bn.pt").toStdString();
  setup.spec.devices = "cpu:2";
  setup.spec.batch = 8;
  setup.spec.data = "synthetic";
  setup.spec.image = {3, 6, 6};
  setup.spec.classes = 5;
  setup.spec.seed = 3;
  setup.runs_dir = temp_path("runs");
  Shown shown;
  QSignalSpy opened(&shown.context, &SessionContext::opened);
  shown.context.open(setup);
  QVERIFY(opened.wait(kWaitMs));
  QSignalSpy stepped(&shown.context, &SessionContext::stepped);
  shown.context.step(2);
  QTRY_COMPARE_WITH_TIMEOUT(stepped.count(), 2, kWaitMs);
  const auto& history = shown.context.history();
  QTRY_VERIFY_WITH_TIMEOUT(!shown.context.running() && !history.awaiting(), kWaitMs);
  QCOMPARE(history.calls("bn"), int64_t{2});
  QCOMPARE(history.calls("bn_average"), int64_t{1});
  QCOMPARE(history.selection().layer, std::string("bn"));  // the first layer, in module order
  auto* calls = shown.view.call_selector();
  QTRY_VERIFY(calls->isVisibleTo(&shown.view));
  QCOMPARE(calls->count(), 2);
  // Each step's record has both calls, with means of their own.
  const auto record = stepped.at(1).at(0).value<StepRecordPtr>();
  std::vector<double> means;
  for (const auto& layer : record->layers) {
    if (layer.layer == "bn") means.push_back(layer.mean.at(0));
  }
  QCOMPARE(means.size(), size_t{2});
  QVERIFY(!near(means[0], means[1]));
  // Call 2 drawn: the series read back from the run are the second call's.
  calls->setCurrentIndex(1);
  QTRY_VERIFY_WITH_TIMEOUT(!history.awaiting() && history.selection().sync_point == 1, kWaitMs);
  const auto plotted = values_of(drawn(shown.view, StatisticsView::kOverSteps), "synchronized");
  QCOMPARE(plotted.size(), size_t{2});
  QVERIFY2(near(plotted[1], means[1]),
           qPrintable(QString("%1 drawn, call 2 had %2").arg(plotted[1]).arg(means[1])));
  // The heatmap has a row for each call of bn; the tree says bn is called twice.
  auto& heatmap = static_cast<HeatmapTab&>(drawn(shown.view, StatisticsView::kHeatmap));
  QStringList rows;
  for (int row = 0; row < heatmap.map()->data()->valueSize(); ++row)
    rows << heatmap.call_at(heatmap.yAxis->coordToPixel(row)).name();
  QVERIFY2(rows.contains("bn (call 1 of 2)") && rows.contains("bn (call 2 of 2)") &&
               rows.contains("bn_average"),
           qPrintable(rows.join(", ")));
  auto& tree = shown.tree.model();
  QVERIFY(tree.data(tree.index_of("bn"), Qt::ToolTipRole)
              .toString()
              .contains("called 2 times per step"));
}
