// SPDX-License-Identifier: GPL-3.0-or-later
// Views that never mislead (issue 13, section 3): each test drives a StatisticsView over a
// history it fills itself, the way a session's steps fill it, and checks what is on screen.
#include <qcustomplot.h>

#include <QTest>
#include <QWheelEvent>
#include <cmath>

#include "history/stats_history.h"
#include "panels/statistics/statistics_tab.h"
#include "panels/statistics/statistics_tabs.h"
#include "panels/statistics/worst_layers_list.h"
#include "panels/statistics_view.h"
#include "plot/plot_tools.h"
#include "plot/statistics_plot.h"
#include "replicascope/base/build_info.h"
#include "session/session_context.h"
#include "ui_tests.h"
#include "view_fixtures.h"
#include "window/error_dialog.h"
#include "window/main_window.h"
#include "window/session_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>

using namespace replicascope;
using namespace replicascope::ui;

using namespace view_fixtures;

void UiViewsTest::tracerGoesWhenTheViewChanges() {
  ShownView shown(StatisticsView::kOverSteps);
  select(shown.history, Statistic::kMean);
  fill(shown.history, 3, -0.25);
  shown.view.replot_now();
  auto* tracer = shown.tab().tracer();
  QVERIFY(tracer->trace_at(shown.pixel_of(0, 1)));
  QVERIFY2(tracer->text().contains("step 2: -0.15"), qPrintable(tracer->text()));
  // A new step under a still cursor: the label reads what is there now.
  fill(shown.history, 1, 5.0, 4);
  shown.view.replot_now();
  QVERIFY(tracer->visible());
  // Another statistic: the mean's label must not stay over the variance plot.
  select(shown.history, Statistic::kVar);
  fill(shown.history, 2, 1.0, 5);
  shown.view.replot_now();
  QCOMPARE(tracer->text(), QString());
  // Nor over a reset session.
  QVERIFY(tracer->trace_at(shown.pixel_of(0, 0)));
  shown.history.clear();
  shown.view.replot_now();
  QCOMPARE(tracer->text(), QString());
}

void UiViewsTest::tracerGoesWhenTheMouseLeaves() {
  ShownView shown(StatisticsView::kLoss);
  fill(shown.history, 4);
  shown.view.replot_now();
  auto* tracer = shown.tab().tracer();
  QVERIFY(tracer->trace_at(shown.pixel_of(0, 2)));
  QVERIFY(!tracer->text().isEmpty());
  QEvent leave(QEvent::Leave);
  QApplication::sendEvent(&shown.tab(), &leave);
  QCOMPARE(tracer->text(), QString());
}

void UiViewsTest::exportsLeaveTheTracerOut() {
  ShownView shown(StatisticsView::kLoss);
  fill(shown.history, 6);
  shown.view.replot_now();
  auto& plot = shown.tab();
  QVERIFY(plot.tracer()->trace_at(shown.pixel_of(0, 3)));
  const auto with_tracer = temp_path("with-tracer.png"), without = temp_path("without.png");
  save_plot(plot, with_tracer, 500, 300);
  QVERIFY(plot.tracer()->visible());  // still there on screen after the export
  plot.tracer()->clear();
  save_plot(plot, without, 500, 300);
  const QImage a(with_tracer), b(without);
  QVERIFY(!a.isNull() && !b.isNull());
  QVERIFY2(a == b, "the tracer's label was drawn into the exported PNG");
}

void UiViewsTest::aClickKeepsTheAxesFollowingTheData() {
  ShownView shown(StatisticsView::kLoss);
  fill(shown.history, 5);
  shown.view.replot_now();
  auto& plot = shown.tab();
  const QPoint centre = plot.axisRect()->rect().center();
  QTest::mouseClick(&plot, Qt::LeftButton, {}, centre);
  QVERIFY(!plot.user_view());
  QVERIFY(!shown.view.reset_view_button()->isVisible());
  fill(shown.history, 5, 1.0, 6);
  shown.view.replot_now();
  QVERIFY2(plot.xAxis->range().upper >= 10, "a click froze the axes: step 10 is off screen");
  // A wheel turn zooms: the view is the user's, and the panel says so.
  QWheelEvent wheel(centre, plot.mapToGlobal(centre), {}, {0, 120}, Qt::NoButton, Qt::NoModifier,
                    Qt::NoScrollPhase, false);
  QApplication::sendEvent(&plot, &wheel);
  QVERIFY(plot.user_view());
  QVERIFY(shown.view.reset_view_button()->isVisible());
  fill(shown.history, 10, 1.0, 11);
  shown.view.replot_now();
  QVERIFY(plot.xAxis->range().upper < 20);  // kept where the user put it
  QTest::mouseClick(shown.view.reset_view_button(), Qt::LeftButton);
  QVERIFY(!plot.user_view());
  QVERIFY(!shown.view.reset_view_button()->isVisible());
  QVERIFY(plot.xAxis->range().upper >= 20);
}

void UiViewsTest::aLonePointIsDrawnOnAnAxisFromZero() {
  ShownView shown(StatisticsView::kOverSteps);
  select(shown.history, Statistic::kMean, /*over_channels=*/true);  // lines, not points
  fill(shown.history, 1);
  shown.view.replot_now();
  auto& plot = shown.tab();
  QVERIFY(plot.graphCount() >= 3);
  for (int g = 0; g < plot.graphCount(); ++g) {
    QCOMPARE(plot.graph(g)->dataCount(), 1);
    QVERIFY2(!plot.graph(g)->scatterStyle().isNone(),
             "a lone point without a marker draws nothing");
  }
  QCOMPARE(plot.xAxis->range().lower, 0.0);
  QCOMPARE(plot.xAxis->range().upper, 2.0);
  // With a second step the line is drawn and the marker goes.
  fill(shown.history, 1, 1.0, 2);
  shown.view.replot_now();
  QVERIFY(plot.graph(0)->scatterStyle().isNone());
}

void UiViewsTest::logScaleSaysWhyValuesAreMissing() {
  ShownView shown(StatisticsView::kOverSteps);
  select(shown.history, Statistic::kMean);
  fill(shown.history, 3, -5.0);  // every mean negative
  shown.view.set_log_scale(true);
  QVERIFY2(shown.tab().notice().contains("cannot draw"), qPrintable(shown.tab().notice()));
  shown.history.clear();
  select(shown.history, Statistic::kMean);
  fill(shown.history, 3, -1.0);  // copy 1 and the synchronized line cross zero
  shown.view.replot_now();
  QVERIFY2(shown.tab().notice().contains("zero or negative and not drawn"),
           qPrintable(shown.tab().notice()));
  shown.view.set_log_scale(false);
  QCOMPARE(shown.tab().notice(), QString());
}

void UiViewsTest::anEmptyPlotSaysWhatToDo() {
  ShownView shown(StatisticsView::kLoss);
  shown.view.replot_now();
  QVERIFY2(shown.tab().notice().contains("Step (F10)"), qPrintable(shown.tab().notice()));
  shown.view.show_tab(StatisticsView::kPerChannel);
  QVERIFY2(shown.tab().notice().contains("step slider"), qPrintable(shown.tab().notice()));
  fill(shown.history, 1);
  shown.view.show_tab(StatisticsView::kLoss);
  QCOMPARE(shown.tab().notice(), QString());
}

void UiViewsTest::anUnsynchronizedSessionIsNotCalledSynchronized() {
  ShownView shown(StatisticsView::kOverSteps);
  shown.history.set_synchronized(false);
  select(shown.history, Statistic::kMean);
  fill(shown.history, 2);
  shown.view.replot_now();
  const auto names = graph_names(shown.tab());
  QVERIFY2(!names.join(' ').contains("synchronized"), qPrintable(names.join(", ")));
  QVERIFY2(names.contains("whole batch (unused: per-copy BN)"), qPrintable(names.join(", ")));
  QCOMPARE(series_label({SeriesKey::Kind::kSynchronized, 0}, true), QString("synchronized"));
  // The CLI's export --plot draws through draw_statistics, with the run's own word for it.
  QCustomPlot exported;
  PlotLabels labels{"layer0: mean", "step", "mean"};
  labels.synchronized = false;
  draw_statistics(exported, shown.history.series(), labels);
  const auto exported_names = graph_names(exported);
  QVERIFY2(exported_names.contains("whole batch (unused: per-copy BN)"),
           qPrintable(exported_names.join(", ")));
}

void UiViewsTest::channelsAreToldApartAndExportedTidy() {
  ShownView shown(StatisticsView::kOverSteps);
  const auto request = shown.history.select({"layer0", Statistic::kMean, 0, 1}, {});
  shown.history.accept({request.generation, {}, {}, {}});
  fill(shown.history, 3);
  shown.view.replot_now();
  auto& plot = shown.tab();
  // Copies 0 and 1 and the synchronized line, channels 0 and 1: six series of points, six legend
  // entries, a marker per channel.
  QCOMPARE(plot.graphCount(), 6);
  QCOMPARE(plot.legend->itemCount(), 6);
  QSet<int> markers;
  for (int g = 0; g < plot.graphCount(); ++g) markers.insert(plot.graph(g)->scatterStyle().shape());
  const auto names = graph_names(plot);
  QVERIFY2(names.contains("copy 1, channel 1"), qPrintable(names.join(", ")));
  QCOMPARE(markers.size(), 2);
  // The CSV: one row per visible point, with the channel and the step in columns of their own.
  auto rows = visible_csv(plot).split('\n', Qt::SkipEmptyParts);
  QCOMPARE(rows.front(), QString("layer,sync_point,statistic,series,channel,step,value"));
  QCOMPARE(rows.size(), 1 + 6 * 3);
  QVERIFY2(rows.contains("layer0,0,mean,copy 1,1,2,2.3500000000000001"),
           qPrintable(rows.join('\n')));
  // Per channel: the channel is the x axis, the step a column.
  shown.history.set_latest(std::make_shared<replicascope::StepRecord>(step_of(7, 1.0)));
  shown.view.show_tab(StatisticsView::kPerChannel);
  rows = visible_csv(shown.tab()).split('\n', Qt::SkipEmptyParts);
  QCOMPARE(rows.size(), 1 + 3 * 2);  // copies 0 and 1 and synchronized, 2 channels each
  QVERIFY2(rows.contains("layer0,0,mean,copy 0,1,7,1.25"), qPrintable(rows.join('\n')));
}

void UiViewsTest::theSessionDialogChecksAndRemembers() {
  engine::SessionSpec start;
  start.devices = "cpu:2";
  start.batch = 8;
  start.data = "synthetic";  // takes an image shape (the field is off for data that does not)
  SessionDialog dialog(start);
  QSignalSpy start_requested(&dialog, &SessionDialog::startRequested);
  auto* image = dialog.findChild<QLineEdit*>("image");
  auto* data = dialog.findChild<QComboBox*>("data");
  auto* model = dialog.findChild<QLineEdit*>("model");
  QVERIFY(image && data && model);
  QCOMPARE(dialog.findChild<QLineEdit*>("devices")->text(), QString("cpu:2"));
  // A shape that is not F / C,L / C,H,W / C,T,H,W: said in the dialog, which stays open.
  image->setText("1,2,3,4,5");
  dialog.accept();
  QVERIFY2(dialog.problem().contains("--image expects F, C,L, C,H,W or C,T,H,W, got '1,2,3,4,5'"),
           qPrintable(dialog.problem()));
  QCOMPARE(dialog.result(), int(QDialog::Rejected));
  dialog.findChild<QLineEdit*>("lr")->setText("fast");
  image->setText("3,32,32");
  dialog.accept();
  QVERIFY2(dialog.problem().contains("--lr"), qPrintable(dialog.problem()));
  dialog.findChild<QLineEdit*>("lr")->setText("0.01");
  data->setCurrentText("synthetic");
  model->setText("/models/net.pt");
  dialog.findChild<QCheckBox*>("synchronized")->setChecked(false);
  dialog.accept();
  QCOMPARE(dialog.problem(), QString());
  QCOMPARE(start_requested.count(), 1);  // the dialog stays until the session opened
  const auto spec = dialog.spec();
  QCOMPARE(spec.image, (std::vector<int64_t>{3, 32, 32}));
  QCOMPARE(spec.data, std::string("synthetic"));
  QCOMPARE(spec.lr(), 0.01);
  QVERIFY(!spec.synchronized);
  QCOMPARE(spec.batch, int64_t{8});
  QCOMPARE(spec.classes, int64_t{0});  // "auto (the model's outputs)"
  // A class count for synthetic data goes through the same parser.
  dialog.findChild<QSpinBox*>("classes")->setValue(4);
  QCOMPARE(dialog.spec().classes, int64_t{4});
  // The notice above the fields (a model that could not take the data) shows when set.
  QVERIFY(dialog.notice().isEmpty());
  dialog.set_notice("conv1 expects 3 input channels");
  QCOMPARE(dialog.notice(), QString("conv1 expects 3 input channels"));
  QVERIFY(dialog.findChild<QLabel*>("notice")->isVisibleTo(&dialog));
  // Remembered per model: this model gets its choices back, another the fallback.
  remember_session(spec);
  const auto again = remembered_session("/models/net.pt", start);
  QCOMPARE(again.image, spec.image);
  QCOMPARE(again.data, spec.data);
  QCOMPARE(again.model, spec.model);
  QVERIFY(!again.synchronized);
  const auto other = remembered_session("/models/other.pt", start);
  QCOMPARE(other.model, std::string("/models/other.pt"));
  QCOMPARE(other.devices, std::string("cpu:2"));
  QVERIFY(other.image.empty());
}

void UiViewsTest::divergenceFollowsTheModelOrder() {
  ShownView shown(StatisticsView::kDivergence);
  replicascope::StepRecord record = step_of(1, 0.0);
  for (const char* name : {"block10", "block2", "block1"}) {
    record.layers.push_back(record.layers.front());
    record.layers.back().layer = name;
  }
  record.layers.erase(record.layers.begin());
  shown.history.append(record);
  const auto legend = [&shown] {
    shown.view.rebuild_now();
    return graph_names(shown.tab());
  };
  // Without the model's order (an old run), natural order: block2 before block10.
  QCOMPARE(legend(), (QStringList{"block1", "block2", "block10"}));
  shown.history.set_layer_order({"", "block2", "block10", "block1"});
  QCOMPARE(legend(), (QStringList{"block2", "block10", "block1"}));
  QVERIFY(natural_less("denselayer2", "denselayer10"));
  QVERIFY(!natural_less("denselayer10", "denselayer2"));
  QVERIFY(natural_less("layer1.0.bn2", "layer1.1.bn1"));
  QVERIFY(natural_less("x02", "x3") && natural_less("a", "a1"));
  QVERIFY(!natural_less("b1", "b1") && !natural_less("b", "a9"));
}

void UiViewsTest::theHeatmapShowsEveryLayerAndSelectsOnClick() {
  ShownView shown(StatisticsView::kHeatmap);
  shown.history.set_layer_order({"", "stem", "block10", "block2"});
  for (int step = 1; step <= 40; ++step) {
    replicascope::StepRecord record = step_of(step, 0.0);
    record.layers.clear();
    for (const char* name : {"block2", "block10", "stem"}) {
      record.layers.push_back(step_of(step, 0.0).layers.front());
      record.layers.back().layer = name;
      // block10 spikes at step 30; stem is flat.
      record.layers.back().divergence =
          std::string(name) == "block10" ? (step == 30 ? 5.0 : 0.5) : (name[0] == 's' ? 0.1 : 1.0);
    }
    shown.history.append(record);
  }
  shown.view.replot_now();
  auto& heatmap = static_cast<HeatmapTab&>(shown.tab());
  auto* data = heatmap.map()->data();
  QCOMPARE(data->valueSize(), 3);  // a row per layer
  QVERIFY(data->keySize() >= 1 && data->keySize() <= 40);
  // Rows in the model's order; the spike is kept whole in its column (the largest, not a mean).
  QCOMPARE(data->data(30, 1), 5.0);
  QCOMPARE(data->data(10, 0), 0.1);
  QCOMPARE(heatmap.worst().front().second.layer, std::string("block10"));
  QVERIFY2(heatmap.notice().isEmpty(), qPrintable(heatmap.notice()));
  QVERIFY2(heatmap.title_text() == "worst: block10 (5), block2 (1)",
           qPrintable(heatmap.title_text()));
  // A click on the middle row selects block10.
  const QPoint row(static_cast<int>(heatmap.xAxis->coordToPixel(20)),
                   static_cast<int>(heatmap.yAxis->coordToPixel(1)));
  QCOMPARE(heatmap.layer_at(row.y()), std::string("block10"));
  QTest::mouseClick(&heatmap, Qt::LeftButton, {}, row);
  QCOMPARE(shown.context.selected(), std::string("block10"));
  // Beside it, the worst layers listed worst first; a click on one selects it.
  auto* worst = shown.view.worst_layers();
  QCOMPARE(worst->count(), 3);
  QVERIFY2(worst->item(0)->text() == "1. block10  5", qPrintable(worst->item(0)->text()));
  QCOMPARE(worst->layer_at(1), std::string("block2"));
  QCOMPARE(worst->layer_at(2), std::string("stem"));
  const auto second = worst->visualItemRect(worst->item(1)).center();
  QTest::mouseClick(worst->viewport(), Qt::LeftButton, {}, second);
  QCOMPARE(shown.context.selected(), std::string("block2"));
}

void UiViewsTest::smoothingIsTensorBoardsAndSaid() {
  ShownView shown(StatisticsView::kLoss);
  // Loss 2 / step: 2, 1, 0.667, 0.5.
  fill(shown.history, 4);
  shown.view.replot_now();
  auto& tab = shown.tab();
  const auto values = [&tab] {
    std::vector<double> out;
    for (auto it = tab.graph(0)->data()->constBegin(); it != tab.graph(0)->data()->constEnd(); ++it)
      out.push_back(it->value);
    return out;
  };
  QCOMPARE(values(), (std::vector<double>{2.0, 1.0, 2.0 / 3, 0.5}));
  shown.view.smoothing_slider()->setValue(50);
  // TensorBoard's debiased average with weight 0.5, by hand: a_n = 0.5 a_(n-1) + 0.5 x_n,
  // shown as a_n / (1 - 0.5^n).
  double average = 0;
  std::vector<double> want;
  const double loss[] = {2.0, 1.0, 2.0 / 3, 0.5};
  for (int n = 1; n <= 4; ++n) {
    average = 0.5 * average + 0.5 * loss[n - 1];
    want.push_back(average / (1 - std::pow(0.5, n)));
  }
  const auto got = values();
  QCOMPARE(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) QVERIFY(std::abs(got[i] - want[i]) < 1e-12);
  QVERIFY2(tab.title_text().endsWith("(smoothed 0.5)"), qPrintable(tab.title_text()));
  QVERIFY2(visible_csv(tab).contains(",loss (smoothed 0.5),"), qPrintable(visible_csv(tab)));
  // A new step is smoothed with the rest; back at 0 the lines are the values again.
  shown.history.append(step_of(5, 1.5));
  shown.view.replot_now();
  QCOMPARE(tab.graph(0)->dataCount(), 5);
  QVERIFY(std::abs(tab.graph(0)->data()->at(4)->value - 0.4) > 1e-3);
  shown.view.smoothing_slider()->setValue(0);
  QCOMPARE(tab.graph(0)->data()->at(4)->value, 0.4);
  QVERIFY2(!tab.title_text().contains("smoothed"), qPrintable(tab.title_text()));
  QVERIFY(!visible_csv(tab).contains("smoothed"));
}

void UiViewsTest::helpListsShortcutsAndVersions() {
  MainWindow window;
  const auto shortcuts = window.shortcuts_text();
  for (const char* expected : {"Debug &gt; Step</td>", "F10", "File &gt; New session...", "F9"})
    QVERIFY2(shortcuts.contains(expected), qPrintable(shortcuts));
  const auto about = window.about_text();
  QVERIFY2(about.contains("ReplicaScope " + QString::fromStdString(replicascope_version())) &&
               about.contains("LibTorch " + QString::fromStdString(libtorch_version())) &&
               about.contains(qVersion()),
           qPrintable(about));
}

void UiViewsTest::legendEntriesToggleTheirLines() {
  ShownView shown(StatisticsView::kOverSteps);
  select(shown.history, Statistic::kMean);
  fill(shown.history, 4);
  shown.view.replot_now();
  auto& plot = shown.tab();
  const auto graph_named = [&plot](const QString& name) -> QCPGraph* {
    const int g = static_cast<int>(graph_names(plot).indexOf(name));
    return g < 0 ? nullptr : plot.graph(g);
  };
  QVERIFY(graph_named("copy 1") && graph_named("copy 0"));
  plot.toggle_series("copy 1");
  QVERIFY(!graph_named("copy 1")->visible());
  QVERIFY(!visible_csv(plot).contains("copy 1"));
  // A double click on a legend entry toggles its line (and does not reset the view).
  auto* entry = plot.legend->itemWithPlottable(graph_named("copy 0"));
  QTest::mouseDClick(&plot, Qt::LeftButton, {}, entry->outerRect().center());
  QVERIFY(!graph_named("copy 0")->visible());
  QTest::mouseDClick(&plot, Qt::LeftButton, {}, entry->outerRect().center());
  QVERIFY(graph_named("copy 0")->visible());
  // The legend can be hidden, and stays hidden through redraws.
  plot.set_legend_wanted(false);
  fill(shown.history, 1, 1.0, 5);
  shown.view.replot_now();
  QVERIFY(!plot.legend->visible());
  plot.set_legend_wanted(true);
  QVERIFY(plot.legend->visible());
  // Another view shows every line again.
  select(shown.history, Statistic::kVar);
  fill(shown.history, 2, 1.0, 6);
  shown.view.replot_now();
  for (int g = 0; g < plot.graphCount(); ++g) QVERIFY(plot.graph(g)->visible());
}

void UiViewsTest::aFollowedRunKeepsTheTracerAndHiddenLines() {
  ShownView shown(StatisticsView::kLoss);
  ModelSnapshot run;
  run.live = false;
  const auto row = [](int64_t step) {
    store::StepRow r;
    r.step = step;
    r.loss = 1.0 / static_cast<double>(step);
    r.accuracy = 0.5;
    return r;
  };
  for (int step = 1; step <= 5; ++step) run.recorded.steps.push_back(row(step));
  shown.history.load_recorded(run);
  shown.view.replot_now();
  auto& plot = shown.tab();
  QVERIFY(plot.tracer()->trace_at(shown.pixel_of(0, 2)));
  plot.toggle_series("accuracy");
  // The run grows (another process writes it): the same view with more steps.
  for (int step = 6; step <= 9; ++step) run.recorded.steps.push_back(row(step));
  shown.history.update_recorded(run);
  shown.view.replot_now();
  QCOMPARE(plot.graph(0)->dataCount(), 9);
  QVERIFY2(plot.tracer()->visible(), "the tracer went although the view is the same");
  QVERIFY2(!plot.graph(1)->visible(), "a line the user hid came back with the new steps");
}

void UiViewsTest::errorsAreSummarized() {
  QString traceback;
  for (int i = 0; i < 50; ++i) traceback += QString(" File \"model.py\", line %1\n").arg(i);
  QString what = "step 1 failed: 4 of 4 copies failed\n";
  for (int c = 0; c < 4; ++c) {
    what += QString("  copy %1: RuntimeError: expected input[4, 1, 28, 28] to have 3 channels\n")
                .arg(c);
  }
  what += traceback;
  const auto folded = summarize_error(what);
  QVERIFY2(folded.summary.startsWith("step 1 failed: 4 of 4 copies failed\n  copies 0, 1, 2, 3: "
                                     "RuntimeError: expected input"),
           qPrintable(folded.summary));
  QVERIFY2(folded.summary.count('\n') <= 9, qPrintable(folded.summary));
  QVERIFY(folded.summary.contains("more lines under Details"));
  QCOMPARE(folded.details, what);
  // Copies that failed differently keep their own lines; a short error is all summary.
  const auto mixed = summarize_error("2 of 3 copies failed\n  copy 0: A\n  copy 2: B");
  QCOMPARE(mixed.summary, QString("2 of 3 copies failed\n  copy 0: A\n  copy 2: B"));
  QCOMPARE(mixed.details, QString());
  QVERIFY(summarize_error(QString(1000, 'x')).summary.size() < 300);
}
