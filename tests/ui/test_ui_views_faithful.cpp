// SPDX-License-Identifier: GPL-3.0-or-later
// Views that do not mislead (issue 30, section 3): what a tester saw on torchvision models under
// a real X server, each checked on a StatisticsView over a history the test fills.
#include <qcustomplot.h>

#include <QFontMetrics>
#include <QPushButton>
#include <QTest>
#include <QWheelEvent>

#include "panels/statistics/statistics_tabs.h"
#include "ui_tests.h"
#include "view_fixtures.h"

using namespace replicascope;
using namespace replicascope::ui;
using namespace view_fixtures;

namespace {

// Step `step` of the layers `names`, the i-th with divergence `divergences[i]` (copies of
// step_of's layer0 otherwise).
StepRecord step_of_layers(int64_t step, const std::vector<std::string>& names,
                          const std::vector<double>& divergences) {
  StepRecord record = step_of(step, 0.0);
  const auto layer = record.layers.front();
  record.layers.clear();
  for (size_t i = 0; i < names.size(); ++i) {
    record.layers.push_back(layer);
    record.layers.back().layer = names[i];
    record.layers.back().divergence = divergences[i];
  }
  return record;
}

// A wheel turn (one notch up zooms in, down scrolls a legend down) at `at` on `widget`.
void turn_wheel(QWidget& widget, QPointF at, int notches) {
  QWheelEvent wheel(at, widget.mapToGlobal(at), {}, {0, 120 * notches}, Qt::NoButton,
                    Qt::NoModifier, Qt::NoScrollPhase, false);
  QApplication::sendEvent(&widget, &wheel);
}

// The labels of the ticks an axis shows in its range (after a replot).
QStringList shown_tick_labels(const QCPAxis& axis) {
  QStringList labels;
  const auto ticks = axis.tickVector();
  const auto texts = axis.tickVectorLabels();
  for (int i = 0; i < ticks.size() && i < texts.size(); ++i) {
    if (axis.range().contains(ticks[i]) && !texts[i].isEmpty()) labels << texts[i];
  }
  return labels;
}

// A recorded run's snapshot: steps 1..steps, those in `kept` keeping every channel (all when
// empty), on `ranks` processes of `copies` copies each.
ModelSnapshot recorded_run(int steps, const std::vector<int64_t>& kept = {}, int ranks = 1,
                           int copies = 2) {
  ModelSnapshot run;
  run.live = false;
  for (int r = 0; r < ranks * copies; ++r) run.wiring.devices.push_back("cpu");
  run.wiring.copies_per_rank = copies;
  for (int64_t step = 1; step <= steps; ++step) {
    store::StepRow row;
    row.step = step;
    row.loss = 1.0 / static_cast<double>(step);
    row.detail = kept.empty() || std::find(kept.begin(), kept.end(), step) != kept.end();
    run.recorded.steps.push_back(row);
  }
  return run;
}

// A series of `key` (channel, or the mean over channels) with `value + step` at each step.
store::Series series_of(SeriesKey key, int64_t channel, const std::vector<int64_t>& steps,
                        double value = 0) {
  store::Series s{key, channel, {}, {}};
  for (auto step : steps) {
    s.steps.push_back(static_cast<double>(step));
    s.values.push_back(value + static_cast<double>(step));
  }
  return s;
}

void answer(StatsHistory& history, const store::SeriesSelection& selection,
            std::vector<store::Series> series) {
  const auto request = history.select(selection, {});
  history.accept({request.generation, std::move(series), {}, {}});
}

}  // namespace

// A model with one synchronized layer drew an empty map (a row of no height) beside a list that
// had its value.
void UiViewsTest::aOneLayerHeatmapDrawsItsRow() {
  ShownView shown(StatisticsView::kHeatmap);
  auto& heatmap = static_cast<HeatmapTab&>(shown.tab());
  const auto colour_at = [&heatmap](double x_fraction) {
    heatmap.replot();
    const auto image = heatmap.toPixmap().toImage();
    const auto area = heatmap.axisRect()->rect();
    return image.pixelColor(area.left() + static_cast<int>(area.width() * x_fraction),
                            area.center().y());
  };
  // The map's colours run from white to dark red; the grid and the background are grey or white.
  const auto warm = [](const QColor& c) { return c.red() - c.blue() > 40; };
  shown.history.append(step_of(1, 0.0));  // layer0's divergence is 0.1
  shown.view.replot_now();
  QCOMPARE(heatmap.map()->data()->valueSize(), 1);
  QVERIFY2(warm(colour_at(0.3)), "one layer, one step: the map's one cell is not drawn");
  shown.history.append(step_of(2, 0.0));  // 0.2
  shown.view.replot_now();
  QCOMPARE(heatmap.map()->data()->keySize(), 2);
  const auto first = colour_at(0.2), second = colour_at(0.8);
  QVERIFY2(warm(first) && warm(second), "one layer, two steps: the row is not drawn");
  QVERIFY2(second.lightness() < first.lightness(), "the larger divergence is not the darker");
  // The row is whole: the y axis holds it from edge to edge, the columns likewise.
  QCOMPARE(heatmap.yAxis->range().lower, -0.5);
  QCOMPARE(heatmap.yAxis->range().upper, 0.5);
  QCOMPARE(heatmap.xAxis->range().lower, 0.5);
  QCOMPARE(heatmap.xAxis->range().upper, 2.5);
}

// Rows of equal height (the first and last were half rows), row names that never overlap, also
// after the plot was made smaller, and no cell half cut at the borders.
void UiViewsTest::heatmapRowsAreWholeAndTheirNamesApart() {
  ShownView shown(StatisticsView::kHeatmap);
  std::vector<std::string> names;
  std::vector<double> divergences;
  for (int i = 0; i < 60; ++i) {
    names.push_back("stage" + std::to_string(i) + ".block.bn");
    divergences.push_back(0.01 * i);
  }
  for (int step = 1; step <= 40; ++step)
    shown.history.append(step_of_layers(step, names, divergences));
  shown.view.replot_now();
  auto& heatmap = static_cast<HeatmapTab&>(shown.tab());
  QCOMPARE(heatmap.map()->data()->valueSize(), 60);
  QCOMPARE(heatmap.map()->data()->keySize(), 40);  // a column per step: the plot is wider
  QCOMPARE(heatmap.yAxis->range().lower, -0.5);
  QCOMPARE(heatmap.yAxis->range().upper, 59.5);
  QCOMPARE(heatmap.xAxis->range().lower, 0.5);
  QCOMPARE(heatmap.xAxis->range().upper, 40.5);
  // Smaller, as a user drags the dock: the names are spaced for the height the plot has now.
  shown.view.resize(900, 330);
  QApplication::processEvents();
  heatmap.replot();
  const auto ticks = heatmap.yAxis->tickVector();
  const int line = QFontMetrics(heatmap.yAxis->tickLabelFont()).height();
  QVERIFY2(shown_tick_labels(*heatmap.yAxis).size() >= 2, "no row is named");
  for (int i = 1; i < ticks.size(); ++i) {
    const double apart =
        std::abs(heatmap.yAxis->coordToPixel(ticks[i]) - heatmap.yAxis->coordToPixel(ticks[i - 1]));
    QVERIFY2(apart >= line, qPrintable(QString("rows %1 and %2 are named %3 pixels apart, with "
                                               "labels %4 pixels high")
                                           .arg(ticks[i - 1])
                                           .arg(ticks[i])
                                           .arg(apart)
                                           .arg(line)));
  }
}

// The title cut names to their tail ("worst: 0.1 (0.703)" meant features.15.block.0.1): whole
// names, or the middle elided when they do not fit, never their start.
void UiViewsTest::theHeatmapTitleNamesWholeLayers() {
  ShownView shown(StatisticsView::kHeatmap);
  const std::vector<std::string> names{"stem", "features.15.block.0.1", "layer4.2.bn3"};
  for (int step = 1; step <= 3; ++step)
    shown.history.append(step_of_layers(step, names, {0.1, 0.703, 0.5}));
  shown.view.replot_now();
  auto& heatmap = static_cast<HeatmapTab&>(shown.tab());
  QCOMPARE(heatmap.title_text(),
           QString("worst: features.15.block.0.1 (0.703), layer4.2.bn3 (0.5)"));
  // A name too long for the plot keeps its start and its end.
  std::string longest = "encoder.";
  for (int i = 0; i < 40; ++i) longest += "stage" + std::to_string(i) + ".";
  longest += "bn_final";
  shown.history.clear();
  for (int step = 1; step <= 3; ++step)
    shown.history.append(step_of_layers(step, {"stem", longest}, {0.1, 0.9}));
  shown.view.replot_now();
  const auto title = heatmap.title_text();
  QVERIFY2(title.startsWith("worst: encoder.stage0.") && title.contains("bn_final (0.9)") &&
               title.contains(QChar(0x2026)),
           qPrintable(title));
  // It fits the column above the map, also once the plot is made narrower.
  const QFontMetrics title_font(QFont("sans", 9));
  const auto fits = [&] {
    heatmap.replot();
    return title_font.horizontalAdvance(heatmap.title_text()) <=
           heatmap.axisRect()->outerRect().width();
  };
  QVERIFY2(fits(), qPrintable(heatmap.title_text()));
  shown.view.resize(700, 600);
  QApplication::processEvents();
  QVERIFY2(fits(), qPrintable(heatmap.title_text()));
  QVERIFY(heatmap.title_text().startsWith("worst: encoder."));
  const auto labels = shown_tick_labels(*heatmap.yAxis);
  QCOMPARE(labels.size(), 2);
  QVERIFY2(labels[0].startsWith("encoder.") && labels[0].endsWith("bn_final") &&
               labels[0].contains(QChar(0x2026)),
           qPrintable(labels[0]));
}

// The same layer was lines while training and scattered dots once selected again (618 of 985
// steps kept their channels): what every step has (each copy's mean over channels) is drawn as
// lines, the steps that kept every channel marked on them; a channel's values are points, live
// and recorded alike.
void UiViewsTest::oneLayerIsOneDrawingLiveAndRecorded() {
  ShownView shown(StatisticsView::kOverSteps);
  auto& plot = shown.tab();
  const auto styles = [&plot] {
    QStringList out;
    for (int g = 0; g < plot.graphCount(); ++g) {
      const auto* graph = plot.graph(g);
      out << graph->name() + (graph->lineStyle() == QCPGraph::lsNone ? ": points" : ": line");
    }
    return out;
  };
  const store::SeriesSelection channels{"layer0", Statistic::kMean, 0, 1};
  store::SeriesSelection summaries = channels;
  summaries.over_channels = true;
  // Live: every step has every channel, drawn as points all the same.
  answer(shown.history, channels, {});
  fill(shown.history, 6);
  shown.view.replot_now();
  QCOMPARE(plot.graphCount(), 6);
  for (const auto& style : styles()) QVERIFY2(style.endsWith(": points"), qPrintable(style));
  // The run says it keeps steps 1 and 3 of the 6: the others' points go, as they will when the
  // layer is read back; steps after that read count as kept until the next one.
  QVERIFY(shown.history.set_kept_steps({1, 3}));
  fill(shown.history, 2, 1.0, 7);
  shown.view.replot_now();
  const auto steps_of = [](const QCPGraph& graph) {
    std::vector<double> steps;
    for (auto it = graph.data()->constBegin(); it != graph.data()->constEnd(); ++it)
      steps.push_back(it->key);
    return steps;
  };
  QCOMPARE(steps_of(*plot.graph(0)), (std::vector<double>{1, 3, 7, 8}));
  QVERIFY(shown.history.set_kept_steps({1, 3, 7}));  // read again after step 8
  shown.view.replot_now();
  QCOMPARE(steps_of(*plot.graph(0)), (std::vector<double>{1, 3, 7}));
  // Recorded, steps 1, 3 and 5 kept: points again, at those steps.
  shown.history.load_recorded(recorded_run(6, {1, 3, 5}));
  const SeriesKey keys[] = {SeriesKey::copy(0), SeriesKey::copy(1), SeriesKey::synchronized()};
  std::vector<store::Series> kept;
  for (const auto& key : keys) kept.push_back(series_of(key, 0, {1, 3, 5}));
  answer(shown.history, channels, kept);
  shown.view.replot_now();
  for (const auto& style : styles()) QVERIFY2(style.endsWith(": points"), qPrintable(style));
  // Its means over channels, at every step: lines, the kept steps marked on the bold one.
  std::vector<store::Series> every;
  for (const auto& key : keys)
    every.push_back(series_of(key, store::kOverChannels, {1, 2, 3, 4, 5, 6}));
  answer(shown.history, summaries, every);
  shown.view.replot_now();
  const auto drawn = styles();
  QVERIFY2(drawn.contains("synchronized: line") && drawn.contains("copy 1: line"),
           qPrintable(drawn.join(", ")));
  const int marks =
      static_cast<int>(graph_names(plot).indexOf("kept every channel (3 of 6 steps)"));
  QVERIFY2(marks >= 0, qPrintable(drawn.join(", ")));
  QCOMPARE(plot.graph(marks)->dataCount(), 3);
  QCOMPARE(plot.graph(marks)->data()->at(1)->key, 3.0);
  QCOMPARE(plot.graph(marks)->data()->at(1)->value, 3.0);  // on the synchronized line
  QVERIFY(!visible_csv(plot).contains("kept every channel"));
  // Live again, over channels: lines, and no marks before the run says what it keeps.
  shown.history.clear();
  answer(shown.history, summaries, {});
  fill(shown.history, 4);
  shown.view.replot_now();
  QCOMPARE(styles(), (QStringList{"copy 0: line", "copy 1: line", "synchronized: line"}));
}

// A legend of 46 layers was taller than the plot and covered its lines: legends sit beside the
// plot, as many entries as fit, the rest a wheel turn away; a plot with no lines has none.
void UiViewsTest::longLegendsStayBesideThePlot() {
  ShownView shown(StatisticsView::kOverSteps);
  auto* divergence = shown.view.plot(StatisticsView::kDivergence);
  QVERIFY2(!divergence->legend->visible(), "an empty legend box over a plot never drawn");
  std::vector<std::string> names;
  for (int i = 0; i < 46; ++i) names.push_back("features." + std::to_string(i) + ".conv.1");
  for (int step = 1; step <= 10; ++step)
    shown.history.append(step_of_layers(step, names, std::vector<double>(46, 0.1 * step)));
  shown.view.show_tab(StatisticsView::kDivergence);
  shown.view.replot_now();
  auto& plot = shown.tab();
  auto* legend = plot.legend;
  QCOMPARE(legend->itemCount(), 46);
  QVERIFY2(!legend->outerRect().intersects(plot.axisRect()->rect()), "the legend covers the data");
  const auto shown_entries = [legend, &plot] {
    std::vector<int> out;
    for (int i = 0; i < legend->itemCount(); ++i) {
      if (!legend->item(i)->realVisibility()) continue;
      if (!plot.rect().contains(legend->item(i)->outerRect())) return std::vector<int>{-1};
      out.push_back(i);
    }
    return out;
  };
  const auto before = shown_entries();
  QVERIFY2(!before.empty() && before.front() == 0, "entries past the plot's bottom");
  QVERIFY(before.size() < 46);
  // The wheel over the legend scrolls it and leaves the axes alone.
  const auto range = plot.xAxis->range();
  turn_wheel(plot, legend->item(before.front())->outerRect().center(), -2);
  plot.replot();
  const auto after = shown_entries();
  QVERIFY2(!after.empty() && after.front() > 0, "the wheel did not scroll the legend");
  QCOMPARE(after.size(), before.size());
  QCOMPARE(plot.xAxis->range().lower, range.lower);
  QCOMPARE(plot.xAxis->range().upper, range.upper);
  QVERIFY(!plot.user_view());
  // Nothing to draw, no legend, and the plot keeps its height.
  shown.history.clear();
  shown.view.replot_now();
  QVERIFY(!legend->visible());
  QVERIFY2(plot.axisRect()->height() > plot.height() / 2, "an empty legend squeezed the plot");
}

// Zoom survived a new session, which showed an empty plot without tick labels; a plot of two
// steps zoomed in lost its step labels.
void UiViewsTest::aNewSessionResetsTheZoom() {
  ShownView shown(StatisticsView::kLoss);
  fill(shown.history, 2);
  shown.view.replot_now();
  auto& plot = shown.tab();
  const QPointF centre = plot.axisRect()->rect().center();
  for (int i = 0; i < 30; ++i) turn_wheel(plot, centre, 1);
  QVERIFY(plot.user_view());
  plot.replot();
  QVERIFY2(shown_tick_labels(*plot.xAxis).size() >= 2,
           qPrintable(QString("zoomed to steps %1 to %2: no step is labelled")
                          .arg(plot.xAxis->range().lower)
                          .arg(plot.xAxis->range().upper)));
  // Another session: every plot follows its data again.
  shown.view.show_tab(StatisticsView::kOverSteps);
  for (int i = 0; i < 3; ++i) turn_wheel(shown.tab(), centre, 1);
  QVERIFY(shown.tab().user_view());
  shown.history.clear();
  shown.view.on_opened(ModelSnapshot{});
  for (auto tab : {StatisticsView::kOverSteps, StatisticsView::kLoss}) {
    shown.view.show_tab(tab);
    QVERIFY(!shown.tab().user_view());
  }
  QVERIFY(!shown.view.reset_view_button()->isVisible());
  shown.view.replot_now();  // nothing to draw yet: axes of their own, labelled
  QCOMPARE(plot.xAxis->range().upper, 2.0);
  plot.replot();
  QVERIFY(shown_tick_labels(*plot.xAxis).size() >= 2);
  fill(shown.history, 3);
  shown.view.replot_now();
  QCOMPARE(plot.xAxis->range().upper, 3.0);
}

// The Loss tab showed the ranks' mean (1.48) where training printed rank 0's (1.19), unlabelled;
// Over steps listed "copy 0" beside "rank 0" and "rank 1" without saying they are rank 0's.
void UiViewsTest::severalRanksAreSaidSo() {
  ShownView shown(StatisticsView::kLoss);
  shown.history.load_recorded(recorded_run(3, {}, /*ranks=*/2, /*copies=*/1));
  shown.view.replot_now();
  const auto loss_names = graph_names(shown.tab());
  QVERIFY2(loss_names.contains("loss, mean of 2 ranks, weighted by samples"),
           qPrintable(loss_names.join(", ")));
  // Rank 0's one copy is rank 0: drawn once, as "rank 0".
  store::SeriesSelection summaries{"layer0", Statistic::kMean, 0, 0};
  summaries.over_channels = true;
  const std::vector<int64_t> steps{1, 2, 3};
  const auto ranked = [&](int copies) {
    std::vector<store::Series> out;
    for (int c = 0; c < copies; ++c)
      out.push_back(series_of(SeriesKey::copy(c), store::kOverChannels, steps, c));
    for (const auto& key : {SeriesKey::synchronized(), SeriesKey::rank(0), SeriesKey::rank(1)})
      out.push_back(series_of(key, store::kOverChannels, steps));
    return out;
  };
  answer(shown.history, summaries, ranked(1));
  shown.view.show_tab(StatisticsView::kOverSteps);
  shown.view.replot_now();
  QCOMPARE(graph_names(shown.tab()), (QStringList{"synchronized", "rank 0", "rank 1"}));
  // Two copies on rank 0: each named as rank 0's.
  answer(shown.history, summaries, ranked(2));
  shown.view.replot_now();
  QCOMPARE(graph_names(shown.tab()),
           (QStringList{"rank 0, copy 0", "rank 0, copy 1", "synchronized", "rank 0", "rank 1"}));
  // One process: its copies are just copies, its loss just the loss.
  shown.history.load_recorded(recorded_run(3));
  shown.view.show_tab(StatisticsView::kLoss);
  QCOMPARE(graph_names(shown.tab()), (QStringList{"loss", "accuracy"}));
}
