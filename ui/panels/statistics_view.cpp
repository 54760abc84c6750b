#include "panels/statistics_view.h"

#include <algorithm>

#include <qcustomplot.h>

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QTabWidget>
#include <QVBoxLayout>
#include <cmath>
#include <limits>

#include "panels/statistics/statistics_tabs.h"
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
  build_controls();
  tabs_ = new QTabWidget;
  // In the tab bar's corner: showing it does not resize the controls row (and the docks).
  tabs_->setCornerWidget(reset_view_, Qt::TopRightCorner);
  layout->addWidget(tabs_, 1);
  tabs_of_ = {new OverStepsTab, new PerChannelTab, new DivergenceTab, new HeatmapTab, new LossTab};
  build_tabs();
  connect(tabs_, &QTabWidget::currentChanged, this, [this](int tab) {
    if (tab == kPerChannel && context_.live()) context_.request_kept_steps();  // up to date at once
    replot_now();
  });
  throttle_.setSingleShot(true);
  connect(&throttle_, &QTimer::timeout, this, &StatisticsView::replot_now);
  kept_timer_.setSingleShot(true);
  connect(&kept_timer_, &QTimer::timeout, this, [this] {
    if (context_.live()) context_.request_kept_steps();
  });
  since_replot_.start();
  context_.add_viewer(this);
}

void StatisticsView::build_controls() {
  auto* controls = new QHBoxLayout;
  statistic_ = new QComboBox;
  statistic_->addItems({"mean", "var"});
  statistic_->setToolTip("the statistic drawn over steps and per channel");
  first_channel_ = new QSpinBox;
  last_channel_ = new QSpinBox;
  first_channel_->setRange(0, 0);
  last_channel_->setRange(0, 0);
  log_scale_ = new QCheckBox("log scale");
  over_channels_ = new QCheckBox("mean over channels");
  over_channels_->setToolTip(
      "each copy's mean over the channels, at every step; a run keeps every channel's values\n"
      "for a sample of its steps only (train --detail-steps), which are drawn as points");
  controls->addWidget(new QLabel("statistic"));
  controls->addWidget(statistic_);
  controls->addWidget(new QLabel("channels"));
  controls->addWidget(first_channel_);
  controls->addWidget(new QLabel("to"));
  controls->addWidget(last_channel_);
  controls->addWidget(over_channels_);
  controls->addWidget(log_scale_);
  smoothing_ = new QSlider(Qt::Horizontal);
  smoothing_->setObjectName("smoothing");
  smoothing_->setRange(0, 99);
  smoothing_->setFixedWidth(80);
  smoothing_->setToolTip(
      "smoothing of the lines over steps (Over steps, Loss), as TensorBoard's: an exponential\n"
      "moving average with this weight; 0 draws each step's own value. The title and the CSV\n"
      "say when lines are smoothed.");
  smoothing_label_ = new QLabel("smoothing 0");
  // As wide as its widest text: a label that grows would widen the panel and squeeze the docks.
  smoothing_label_->setFixedWidth(
      smoothing_label_->fontMetrics().horizontalAdvance("smoothing 0.99") + 4);
  controls->addWidget(smoothing_label_);
  controls->addWidget(smoothing_);
  connect(smoothing_, &QSlider::valueChanged, this,
          [this](int hundredths) { set_smoothing(hundredths / 100.0); });
  step_slider_ = new QSlider(Qt::Horizontal);
  step_slider_->setToolTip(
      "Per channel: the recorded step to draw, among those that kept every channel's values");
  step_slider_->setMinimumWidth(120);
  step_label_ = new QLabel;
  step_slider_->setVisible(false);
  step_label_->setVisible(false);
  // On a row of its own: beside the controls it would widen the panel and squeeze the docks.
  auto* steps_row = new QHBoxLayout;
  auto* caption = new QLabel("Per channel at");
  caption->setVisible(false);
  steps_row->addWidget(caption);
  steps_row->addWidget(step_slider_, 1);
  steps_row->addWidget(step_label_);
  steps_row_ = steps_row;
  controls->addStretch();
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
  connect(step_slider_, &QSlider::valueChanged, this, &StatisticsView::show_kept_step);
  static_cast<QVBoxLayout*>(layout())->addLayout(controls);
  static_cast<QVBoxLayout*>(layout())->addLayout(steps_row);
  connect(statistic_, &QComboBox::currentIndexChanged, this, &StatisticsView::controls_edited);
  connect(first_channel_, &QSpinBox::valueChanged, this, [this](int v) {
    if (last_channel_->value() < v) last_channel_->setValue(v);
    controls_edited();
  });
  connect(last_channel_, &QSpinBox::valueChanged, this, [this](int v) {
    if (first_channel_->value() > v) first_channel_->setValue(v);
    controls_edited();
  });
  connect(log_scale_, &QCheckBox::toggled, this, &StatisticsView::set_log_scale);
  connect(over_channels_, &QCheckBox::toggled, this, [this](bool on) {
    first_channel_->setEnabled(!on);
    last_channel_->setEnabled(!on);
    controls_edited();
  });
}

void StatisticsView::build_tabs() {
  const char* names[kTabCount] = {"Over steps", "Per channel", "Divergence", "Heatmap", "Loss"};
  for (int t = 0; t < kTabCount; ++t) {
    auto* tab = tabs_of_[t];
    tab->on_user_view_changed = [this, tab](bool) {
      if (tab == current_tab()) show_auto_range_state();
    };
    if (t != kHeatmap) {
      tabs_->addTab(tab, names[t]);
    } else {
      // The heatmap and its list of the worst layers, side by side.
      auto* page = new QWidget;
      auto* row = new QHBoxLayout(page);
      row->setContentsMargins(0, 0, 0, 0);
      row->addWidget(tab, 1);
      worst_layers_ = new WorstLayersList;
      worst_layers_->on_layer_clicked = [this](const std::string& layer) {
        context_.select(layer);
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
  // A click on a heatmap row selects its layer everywhere (tree, wiring, plots).
  auto* heatmap = static_cast<HeatmapTab*>(tabs_of_[kHeatmap]);
  connect(heatmap, &QCustomPlot::plottableClick, this,
          [this, heatmap](QCPAbstractPlottable*, int, QMouseEvent* event) {
            const auto layer = heatmap->layer_at(event->position().y());
            if (!layer.empty()) context_.select(layer);
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

void StatisticsView::on_reset() {
  apply_kept_steps({}, /*at_newest=*/true);  // the new run has kept nothing yet
  replot_now();
}

void StatisticsView::on_kept_steps(const std::vector<int64_t>& steps) {
  apply_kept_steps(steps, step_slider_->value() == step_slider_->maximum());
}

void StatisticsView::on_opened(const ModelSnapshot& snapshot) {
  kept_timer_.stop();
  // A live layer's width is known from its first step; a recorded run's is not asked for.
  set_channel_count(snapshot.live ? 1 : 4096);
  // A run that kept every channel for a sample of its steps opens on what every step has.
  const bool sampled = std::any_of(snapshot.recorded_steps.begin(), snapshot.recorded_steps.end(),
                                   [](const store::StepRow& step) { return !step.detail; });
  const QSignalBlocker blocker(over_channels_);
  over_channels_->setChecked(sampled);
  first_channel_->setEnabled(!sampled);
  last_channel_->setEnabled(!sampled);
  set_kept_steps(snapshot, /*at_newest=*/true);
}

void StatisticsView::on_run_grew(const ModelSnapshot& snapshot) {
  // The slider stays on the step the user picked, unless that was the newest.
  set_kept_steps(snapshot, step_slider_->value() == step_slider_->maximum());
  schedule_replot();
}

void StatisticsView::set_kept_steps(const ModelSnapshot& snapshot, bool at_newest) {
  std::vector<int64_t> kept;
  for (const auto& step : snapshot.recorded_steps) {
    if (step.detail) kept.push_back(step.step);
  }
  apply_kept_steps(std::move(kept), at_newest);
}

void StatisticsView::apply_kept_steps(std::vector<int64_t> steps, bool at_newest) {
  // The slider stays on the step it showed, not on its position: a run thins out its kept
  // steps as it grows (--detail-steps auto), which moves the later ones down the list. A step
  // no longer kept gives way to the next one kept.
  const int before = step_slider_->value();
  const int64_t shown = before >= 0 && before < static_cast<int>(kept_steps_.size())
                            ? kept_steps_[static_cast<size_t>(before)]
                            : -1;
  kept_steps_ = std::move(steps);
  // Live, one more position past the kept steps: the newest step, following the training.
  const int positions = static_cast<int>(kept_steps_.size()) + (context_.live() ? 1 : 0);
  const QSignalBlocker slider_blocker(step_slider_);
  step_slider_->setRange(0, std::max(0, positions - 1));
  int value = step_slider_->maximum();
  if (!at_newest && shown >= 0) {
    value = static_cast<int>(std::lower_bound(kept_steps_.begin(), kept_steps_.end(), shown) -
                             kept_steps_.begin());
  }
  step_slider_->setValue(std::min(value, step_slider_->maximum()));
  for (int i = 0; i < steps_row_->count(); ++i) {
    if (auto* widget = steps_row_->itemAt(i)->widget()) widget->setVisible(!kept_steps_.empty());
  }
  show_kept_step(step_slider_->value());
}

void StatisticsView::show_kept_step(int index) {
  if (context_.live() && index == static_cast<int>(kept_steps_.size())) {
    step_label_->setText(QString("the newest step (%1 kept)").arg(kept_steps_.size()));
    context_.show_newest_channels();
    return;
  }
  if (index < 0 || index >= static_cast<int>(kept_steps_.size())) return;
  step_label_->setText(QString("step %1 (%2 of %3 kept)")
                           .arg(kept_steps_[index])
                           .arg(index + 1)
                           .arg(kept_steps_.size()));
  context_.show_channels_at(kept_steps_[index]);
}

void StatisticsView::on_stepped(const engine::StepRecord& record) {
  // The channel range follows the plotted layer's width, known from its first step.
  for (const auto& layer : record.layers) {
    if (layer.layer == history_.selection().layer && layer.sync_point == 0 && record.step == 1)
      set_channel_count(static_cast<int64_t>(layer.mean.size()));
  }
  // Its kept steps are read only while the Per-channel view is shown (a read goes over every
  // step row, on the training's thread).
  if (context_.live() && tabs_->currentIndex() == kPerChannel && !kept_timer_.isActive())
    kept_timer_.start(1000);
  schedule_replot();
}

void StatisticsView::on_selection_changed(const std::string& module) {
  if (!context_.has_statistics(module)) return;
  context_.show_statistics(selection_for(module));
  show_kept_step(step_slider_->value());  // the new layer at the same kept step
}

void StatisticsView::controls_edited() {
  context_.show_statistics(selection_for(history_.selection().layer));
}

store::SeriesSelection StatisticsView::selection_for(const std::string& layer) const {
  store::SeriesSelection s;
  s.layer = layer;
  s.statistic = parse_statistic(statistic_->currentText().toStdString());
  s.first_channel = first_channel_->value();
  s.last_channel = last_channel_->value();
  s.over_channels = over_channels_->isChecked();
  return s;
}

void StatisticsView::set_channel_count(int64_t channels) {
  const int top = static_cast<int>(std::max<int64_t>(0, channels - 1));
  const QSignalBlocker a(first_channel_), b(last_channel_);
  first_channel_->setRange(0, top);
  last_channel_->setRange(0, top);
}

void StatisticsView::set_log_scale(bool on) {
  if (log_scale_->isChecked() != on) log_scale_->setChecked(on);  // re-enters once
  for (auto* tab : tabs_of_) tab->set_log_scale(on);
  replot_now();
}

void StatisticsView::set_smoothing(double weight) {
  const int hundredths = static_cast<int>(std::lround(weight * 100));
  if (smoothing_->value() != hundredths) smoothing_->setValue(hundredths);  // re-enters once
  smoothing_label_->setText(QString("smoothing %1").arg(hundredths / 100.0));
  for (auto* tab : tabs_of_) tab->set_smoothing(hundredths / 100.0);
  replot_now();
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
    worst_layers_->show_worst(static_cast<HeatmapTab&>(plot).worst(), history_.selection().layer);
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
