// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/statistics_view.h"

#include <algorithm>

#include <qcustomplot.h>

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QTabWidget>
#include <QVBoxLayout>
#include <cmath>
#include <limits>

#include "panels/statistics/kept_step_slider.h"
#include "panels/statistics/statistics_controls.h"
#include "panels/statistics/statistics_tabs.h"
#include "panels/statistics/step_band.h"
#include "panels/statistics/worst_layers_list.h"
#include "plot/plot_tools.h"
#include "session/session_context.h"

namespace replicascope::ui {

StatisticsView::StatisticsView(SessionContext& context, QWidget* parent)
    : StatisticsView(context, context.history(), parent) {}

StatisticsView::StatisticsView(SessionContext& context, const StatsHistory& history,
                               QWidget* parent)
    : QWidget(parent), context_(context), history_(history) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  controls_ = new StatisticsControls;
  layout->addWidget(controls_);
  // In the Per channel tab, above its plot (build_tabs): it picks that tab's step only, and
  // above the tab bar it would move the tabs whenever it shows.
  kept_step_slider_ = new KeptStepSlider(context_);
  connect_controls();
  build_reset_view();
  tabs_ = new QTabWidget;
  // In the tab bar's corner: showing it does not resize the controls row (and the docks).
  tabs_->setCornerWidget(reset_view_, Qt::TopRightCorner);
  layout->addWidget(tabs_, 1);
  tabs_of_ = {new OverStepsTab, new PerChannelTab, new DivergenceTab, new HeatmapTab, new LossTab};
  for (const auto tab : {kOverSteps, kDivergence, kLoss})
    bands_[tab] = std::make_unique<StepBand>(*tabs_of_[tab]);
  build_tabs();
  connect(tabs_, &QTabWidget::currentChanged, this, [this](int tab) {
    if (shows_kept_steps(tab) && context_.live()) context_.request_kept_steps();  // at once
    replot_now();
  });
  throttle_.setSingleShot(true);
  connect(&throttle_, &QTimer::timeout, this, &StatisticsView::replot_now);
  kept_timer_.setSingleShot(true);
  connect(&kept_timer_, &QTimer::timeout, this, [this] {
    if (context_.live()) context_.request_kept_steps();
  });
  since_replot_.start();
  controls_edited();  // what the plots show starts as the controls say
  context_.add_viewer(this);
}

void StatisticsView::connect_controls() {
  connect(controls_, &StatisticsControls::selectionEdited, this, &StatisticsView::controls_edited);
  connect(controls_, &StatisticsControls::logScaleToggled, this, &StatisticsView::set_log_scale);
  connect(controls_, &StatisticsControls::smoothingChanged, this, &StatisticsView::set_smoothing);
}

void StatisticsView::build_reset_view() {
  reset_view_ = new QPushButton("Auto-range off: reset view");
  reset_view_->setToolTip(
      "You zoomed or dragged this plot, so its axes stay put and new steps may fall outside.\n"
      "Reset (or double-click the plot) to follow the data again.");
  reset_view_->setStyleSheet("QPushButton { background: #fff3c4; }");
  reset_view_->setVisible(false);
  connect(reset_view_, &QPushButton::clicked, this, [this] {
    current_tab()->reset_view();
    replot_now();
  });
}

void StatisticsView::build_tabs() {
  const char* names[kTabCount] = {"Over steps", "Per channel", "Divergence", "Heatmap", "Loss"};
  for (int t = 0; t < kTabCount; ++t) {
    auto* tab = tabs_of_[t];
    tab->on_user_view_changed = [this, tab](bool) {
      if (tab == current_tab()) show_auto_range_state();
    };
    if (t == kPerChannel) {
      auto* page = new QWidget;
      auto* column = new QVBoxLayout(page);
      column->setContentsMargins(0, 0, 0, 0);
      column->addWidget(kept_step_slider_);
      column->addWidget(tab, 1);
      tabs_->addTab(page, names[t]);
    } else if (t != kHeatmap) {
      tabs_->addTab(tab, names[t]);
    } else {
      // The heatmap and its list of the worst layers, side by side.
      auto* page = new QWidget;
      auto* row = new QHBoxLayout(page);
      row->setContentsMargins(0, 0, 0, 0);
      row->addWidget(tab, 1);
      worst_layers_ = new WorstLayersList;
      worst_layers_->on_call_clicked = [this](const LayerCall& call) {
        context_.select_call(call.layer, call.sync_point);
      };
      auto* side = new QVBoxLayout;
      side->addWidget(new QLabel("Worst layers (largest divergence)"));
      side->addWidget(worst_layers_, 1);
      row->addLayout(side);
      tabs_->addTab(page, names[t]);
      tabs_->setTabToolTip(t,
                           "every layer's divergence over steps, a row per layer in the "
                           "model's order; click a row to select its layer");
    }
  }
  connect(tabs_, &QTabWidget::currentChanged, this, [this] { show_auto_range_state(); });
  // A click on a heatmap row selects its layer (and call) everywhere (tree, wiring, plots).
  auto* heatmap = static_cast<HeatmapTab*>(tabs_of_[kHeatmap]);
  connect(heatmap, &QCustomPlot::plottableClick, this,
          [this, heatmap](QCPAbstractPlottable*, int, QMouseEvent* event) {
            const auto call = heatmap->call_at(event->position().y());
            if (!call.layer.empty()) context_.select_call(call.layer, call.sync_point);
          });
  // The divergence envelope's buckets follow the zoom.
  connect(tabs_of_[kDivergence]->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
          [this] {
            if (tabs_of_[kDivergence]->user_view()) schedule_replot();
          });
}

StatisticsView::~StatisticsView() {
  context_.remove_viewer(this);
}

bool StatisticsView::shows_kept_steps(int tab) {
  // Per channel moves between them; Over steps marks them and draws a channel's values there.
  return tab == kPerChannel || tab == kOverSteps;
}

void StatisticsView::follow_the_data() {
  // Zoomed into another session's steps, a plot would show nothing of this one.
  for (auto* tab : tabs_of_) tab->reset_view();
  show_auto_range_state();
}

void StatisticsView::on_reset() {
  kept_step_slider_->apply_kept_steps({}, /*at_newest=*/true);  // the new run has kept nothing yet
  follow_the_data();
  replot_now();
}

void StatisticsView::on_kept_steps(const std::vector<int64_t>& steps) {
  kept_step_slider_->apply_kept_steps(steps, kept_step_slider_->on_newest());
}

void StatisticsView::on_opened(const ModelSnapshot& snapshot) {
  kept_timer_.stop();
  follow_the_data();
  // A live layer's width is known from its first step; a recorded run's is not asked for.
  set_channel_count(snapshot.live ? 1 : 4096);
  // A run that kept every channel for a sample of its steps opens on what every step has.
  const bool sampled = std::any_of(snapshot.recorded.steps.begin(), snapshot.recorded.steps.end(),
                                   [](const store::StepRow& step) { return !step.detail; });
  controls_->set_over_channels(sampled);
  controls_edited();
  kept_step_slider_->set_kept_steps(snapshot, /*at_newest=*/true);
}

void StatisticsView::on_run_grew(const ModelSnapshot& snapshot) {
  // The slider stays on the step the user picked, unless that was the newest.
  kept_step_slider_->set_kept_steps(snapshot, kept_step_slider_->on_newest());
  schedule_replot();
}

void StatisticsView::on_stepped(const replicascope::StepRecord& record) {
  // The channel range follows the plotted layer's width, known from its first step, as do
  // its calls.
  const auto& selected = history_.selection();
  for (const auto& layer : record.layers) {
    if (layer.layer == selected.layer && layer.sync_point == selected.sync_point &&
        record.step == 1)
      set_channel_count(static_cast<int64_t>(layer.mean.size()));
  }
  controls_->show_calls(history_.selected_call());
  // Its kept steps are read only while a tab that shows them is (a read goes over every step
  // row, on the training's thread).
  if (context_.live() && shows_kept_steps(tabs_->currentIndex()) && !kept_timer_.isActive())
    kept_timer_.start(1000);
  // While a new selection's series are on their way the history holds none of them (this step
  // comes with the answer): a redraw now would flash an empty plot. The answer redraws.
  if (!history_.awaiting()) schedule_replot();
}

void StatisticsView::on_selection_changed(const std::string&) {
  // Before anything asks for the controls' values: the call shown is the new layer's.
  controls_->show_calls(history_.selected_call());
}

void StatisticsView::on_findings_changed(const FindingsReport&, const diagnose::Finding* selected) {
  mark_finding(selected);  // grown, gone, or none (another session)
}

void StatisticsView::on_finding_selected(const diagnose::Finding* finding) {
  mark_finding(finding);
  if (!finding) return;
  // The tab that shows it: the loss's findings have no layer; a layer's, its steps.
  const int tab = tabs_->currentIndex();
  if (finding->layer.empty()) {
    show_tab(kLoss);
  } else if (tab == kLoss || tab == kHeatmap) {
    show_tab(kOverSteps);
  }
  kept_step_slider_->show_nearest(finding->first_step);
}

void StatisticsView::mark_finding(const diagnose::Finding* finding) {
  // A tab not shown draws its band when it is shown (replot_now).
  for (const auto tab : {kOverSteps, kDivergence, kLoss}) {
    if (bands_[tab]->mark(finding) && tabs_of_[tab] == current_tab())
      tabs_of_[tab]->replot(QCustomPlot::rpQueuedReplot);
  }
  // The heatmap outlines the finding's row: placed as its rows are drawn.
  static_cast<HeatmapTab*>(tabs_of_[kHeatmap])->mark(finding);
  if (tabs_of_[kHeatmap] == current_tab()) tabs_of_[kHeatmap]->replot(QCustomPlot::rpQueuedReplot);
}

QComboBox* StatisticsView::call_selector() const {
  return controls_->call_selector();
}

void StatisticsView::controls_edited() {
  // The context keeps what is plotted: a layer selected later is shown with these values.
  context_.plot_values(controls_->selection_for({}));
}

void StatisticsView::set_channel_count(int64_t channels) {
  controls_->set_channel_count(channels);
  controls_edited();  // a narrower range moves the channels shown
}

void StatisticsView::set_log_scale(bool on) {
  controls_->set_log_scale(on);  // re-enters once
  for (auto* tab : tabs_of_) tab->set_log_scale(on);
  replot_now();
}

void StatisticsView::set_smoothing(double weight) {
  const int hundredths = static_cast<int>(std::lround(weight * 100));
  controls_->set_smoothing(hundredths);  // re-enters once
  for (auto* tab : tabs_of_) tab->set_smoothing(hundredths / 100.0);
  replot_now();
}

const std::vector<int64_t>& StatisticsView::kept_steps() const {
  return kept_step_slider_->kept_steps();
}

QSlider* StatisticsView::step_slider() const {
  return kept_step_slider_->slider();
}

QSlider* StatisticsView::smoothing_slider() const {
  return controls_->smoothing_slider();
}

void StatisticsView::show_tab(Tab tab) {
  tabs_->setCurrentIndex(tab);
}

QCustomPlot* StatisticsView::plot(Tab tab) const {
  return tabs_of_[tab];
}

QCustomPlot* StatisticsView::current_plot() const {
  return current_tab();
}

PlotTracer* StatisticsView::tracer(Tab tab) const {
  return tabs_of_[tab]->tracer();
}

void StatisticsView::schedule_replot() {
  if (throttle_.isActive()) return;  // a redraw is already coming, and will show this too
  const auto wait = kMinReplotIntervalMs - since_replot_.elapsed();
  throttle_.start(static_cast<int>(std::max<qint64>(0, wait)));
}

void StatisticsView::replot_now() {
  throttle_.stop();
  since_replot_.restart();
  ++replots_;
  controls_->show_calls(history_.selected_call());  // what the plots draw, said once more
  auto& plot = *current_tab();
  plot.draw(history_);
  // A line with more than a point per 4 pixels is a dense band: antialiasing it hardly shows and
  // costs most of the redraw (20x for 50 noisy lines of 10,000 steps).
  const int pixels = std::max(1, plot.axisRect()->width());
  for (int g = 0; g < plot.graphCount(); ++g) {
    auto* graph = plot.graph(g);
    const bool dense = graph->dataCount() >= pixels / 4;
    graph->setAntialiased(!dense);
    if (dense && graph->pen().widthF() < 2) {
      // A one-pixel cosmetic pen takes Qt's fast line path; 1.2 would go through the stroker.
      auto pen = graph->pen();
      pen.setWidth(1);
      pen.setCosmetic(true);
      graph->setPen(pen);
    }
  }
  plot.replot(QCustomPlot::rpQueuedRefresh);
  if (&plot == tabs_of_[kHeatmap]) {
    worst_layers_->show_worst(static_cast<HeatmapTab&>(plot).worst(), history_.selected_call());
  }
}

void StatisticsView::rebuild_now() {
  for (auto* tab : tabs_of_) {
    tab->forget();
    tab->clearGraphs();
  }
  replot_now();
}

void StatisticsView::show_auto_range_state() {
  // Zoomed or dragged, the axes stay where the user put them and new steps may land off screen:
  // say so, with the way back.
  reset_view_->setVisible(current_tab()->user_view());
}

StatisticsTab* StatisticsView::current_tab() const {
  return tabs_of_[tabs_->currentIndex()];
}

}  // namespace replicascope::ui
