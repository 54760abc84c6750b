#include "widgets/statistics_view.h"

#include <qcustomplot.h>

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>
#include <QTabWidget>
#include <QVBoxLayout>
#include <cmath>
#include <limits>

#include "plot/plot_tools.h"
#include "plot/statistics_plot.h"

namespace replicascope::ui {
namespace {

// Gives `graph` the points (x, y). With `append`, the points it has are taken to be the first
// of them (same series, same epoch) and only the new ones are added.
void set_graph_data(QCPGraph& graph, const std::vector<double>& x, const std::vector<double>& y,
                    bool append = false) {
  const int n = static_cast<int>(std::min(x.size(), y.size()));
  const int have = graph.dataCount();
  if (append && have <= n) {
    if (have == n) return;
    QVector<QCPGraphData> tail(n - have);
    for (int i = have; i < n; ++i) tail[i - have] = QCPGraphData(x[i], y[i]);
    graph.data()->add(tail, /*alreadySorted=*/true);
    return;
  }
  QVector<QCPGraphData> points(n);
  for (int i = 0; i < n; ++i) points[i] = QCPGraphData(x[i], y[i]);
  graph.data()->set(points, /*alreadySorted=*/true);
}

// The graphs a plot needs, re-using the ones it has (their data is replaced).
QCPGraph* graph_at(QCustomPlot& plot, int i) {
  while (plot.graphCount() <= i) plot.addGraph(plot.xAxis, plot.yAxis);
  return plot.graph(i);
}

void drop_graphs_from(QCustomPlot& plot, int count) {
  while (plot.graphCount() > count) plot.removeGraph(plot.graphCount() - 1);
}

// One legend entry per distinct name.
void name_graph(QCustomPlot& plot, QCPGraph& graph, const QString& name, QSet<QString>& named) {
  graph.setName(name);
  const bool first = !named.contains(name);
  if (first) named.insert(name);
  if (first && !plot.legend->hasItemWithPlottable(&graph)) graph.addToLegend();
  if (!first) graph.removeFromLegend();
}

// The largest value in each bucket of `bucket` steps, at the step where it was: one point per
// pixel column instead of a band of thousands (for divergence the worst is what matters).
// Extends what the envelope holds with the series' new points.
void extend_envelope(const store::Series& series, double bucket, StatisticsView::Envelope& e) {
  if (e.bucket != bucket || e.used > series.steps.size()) {
    e = StatisticsView::Envelope{};
    e.bucket = bucket;
    e.slot = std::numeric_limits<int64_t>::min();
  }
  const double per_step = 1.0 / bucket;
  for (size_t i = e.used; i < series.steps.size() && i < series.values.size(); ++i) {
    const auto slot = static_cast<int64_t>(series.steps[i] * per_step);  // steps are positive
    if (slot == e.slot) {
      if (series.values[i] > e.y.back())
        e.x.back() = series.steps[i], e.y.back() = series.values[i];
    } else {
      e.slot = slot;
      e.x.push_back(series.steps[i]);
      e.y.push_back(series.values[i]);
    }
  }
  e.used = series.steps.size();
}

const QColor kLayerColours[] = {QColor(31, 119, 180),  QColor(255, 127, 14),  QColor(44, 160, 44),
                                QColor(214, 39, 40),   QColor(148, 103, 189), QColor(140, 86, 75),
                                QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                                QColor(23, 190, 207)};

}  // namespace

StatisticsView::StatisticsView(const StatsHistory& history, QWidget* parent)
    : QWidget(parent), history_(history) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  auto* controls = new QHBoxLayout;
  statistic_ = new QComboBox;
  statistic_->addItems({"mean", "var"});
  statistic_->setToolTip("the statistic drawn over steps and per channel");
  first_channel_ = new QSpinBox;
  last_channel_ = new QSpinBox;
  first_channel_->setRange(0, 0);
  last_channel_->setRange(0, 0);
  log_scale_ = new QCheckBox("log scale");
  controls->addWidget(new QLabel("statistic"));
  controls->addWidget(statistic_);
  controls->addWidget(new QLabel("channels"));
  controls->addWidget(first_channel_);
  controls->addWidget(new QLabel("to"));
  controls->addWidget(last_channel_);
  controls->addWidget(log_scale_);
  controls->addStretch();
  layout->addLayout(controls);
  tabs_ = new QTabWidget;
  layout->addWidget(tabs_, 1);

  const PlotLabels labels[kTabCount] = {
      {"(select a synchronized layer)", "step", "mean"},
      {"per channel at the newest step", "channel", "mean"},
      {"divergence per layer", "step", "max |local - sync| / std"},
      {"loss and accuracy", "step", "value"}};
  const char* names[kTabCount] = {"Over steps", "Per channel", "Divergence", "Loss"};
  for (int t = 0; t < kTabCount; ++t) {
    auto* plot = new QCustomPlot;
    plot->setMinimumSize(320, 220);
    titles_[t] = prepare_plot(*plot, labels[t]);
    enable_interactions(*plot);
    tracers_[t] = new PlotTracer(*plot);
    // A drag or a wheel turn means the user chose the view; a double click gives it back.
    connect(plot, &QCustomPlot::mousePress, this, [this, t] { user_view_[t] = true; });
    connect(plot, &QCustomPlot::mouseWheel, this, [this, t] { user_view_[t] = true; });
    connect(plot, &QCustomPlot::mouseDoubleClick, this, [this, t] {
      user_view_[t] = false;
      replot_now();
    });
    plots_[t] = plot;
    if (t == kDivergence) {  // the envelope's buckets follow the zoom
      connect(plot->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
        if (user_view_[kDivergence]) schedule_replot();
      });
    }
    tabs_->addTab(plot, names[t]);
  }
  connect(tabs_, &QTabWidget::currentChanged, this, [this] { replot_now(); });
  connect(statistic_, &QComboBox::currentIndexChanged, this, &StatisticsView::selectionEdited);
  connect(first_channel_, &QSpinBox::valueChanged, this, [this](int v) {
    if (last_channel_->value() < v) last_channel_->setValue(v);
    emit selectionEdited();
  });
  connect(last_channel_, &QSpinBox::valueChanged, this, [this](int v) {
    if (first_channel_->value() > v) first_channel_->setValue(v);
    emit selectionEdited();
  });
  connect(log_scale_, &QCheckBox::toggled, this, &StatisticsView::set_log_scale);
  throttle_.setSingleShot(true);
  connect(&throttle_, &QTimer::timeout, this, &StatisticsView::replot_now);
  since_replot_.start();
}

StatsSelection StatisticsView::selection_for(const std::string& layer) const {
  StatsSelection s;
  s.layer = layer;
  s.statistic = statistic_->currentText().toStdString();
  s.first_channel = first_channel_->value();
  s.last_channel = last_channel_->value();
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
  for (auto* plot : plots_) ui::set_log_scale(*plot, on);
  replot_now();
}

void StatisticsView::show_tab(Tab tab) {
  tabs_->setCurrentIndex(tab);
}

QCustomPlot* StatisticsView::current_plot() const {
  return plots_[tabs_->currentIndex()];
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
  const auto tab = static_cast<Tab>(tabs_->currentIndex());
  switch (tab) {
    case kOverSteps:
      fill_over_steps();
      break;
    case kPerChannel:
      fill_per_channel();
      break;
    case kDivergence:
      fill_divergence();
      break;
    default:
      fill_loss();
      break;
  }
  auto& plot = *plots_[tab];
  if (!user_view_[tab]) rescale(plot);
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
}

void StatisticsView::rebuild_now() {
  drawn_epoch_.fill(0);
  envelopes_.clear();
  for (auto* plot : plots_) plot->clearGraphs();
  replot_now();
}

bool StatisticsView::only_new_points(Tab tab) const {
  // Epochs start at 1 once anything was selected or cleared; 0 means never drawn.
  return drawn_epoch_[tab] != 0 && drawn_epoch_[tab] == history_.epoch();
}

void StatisticsView::rescale(QCustomPlot& plot) {
  plot.rescaleAxes(/*onlyVisiblePlottables=*/true);
  const auto range = plot.yAxis->range();
  if (range.size() == 0) plot.yAxis->setRange(range.lower - 0.5, range.upper + 0.5);
}

void StatisticsView::fill_over_steps() {
  auto& plot = *plots_[kOverSteps];
  const auto& sel = history_.selection();
  titles_[kOverSteps]->setText(sel.layer.empty() ? QString("(select a synchronized layer)")
                                                 : QString("%1: %2, channels %3-%4")
                                                       .arg(QString::fromStdString(sel.layer),
                                                            QString::fromStdString(sel.statistic))
                                                       .arg(sel.first_channel)
                                                       .arg(sel.last_channel));
  plot.yAxis->setLabel(QString::fromStdString(sel.statistic));
  const bool append =
      only_new_points(kOverSteps) &&
      plot.graphCount() == static_cast<int>(history_.overlay().size() + history_.series().size());
  drawn_epoch_[kOverSteps] = history_.epoch();
  QSet<QString> named;
  int g = 0;
  // Another run first, so this run's lines are drawn over it.
  for (const auto* group : {&history_.overlay(), &history_.series()}) {
    const bool faded = group == &history_.overlay();
    for (const auto& s : *group) {
      auto* graph = graph_at(plot, g++);
      set_graph_data(*graph, s.steps, s.values, append);
      graph->setPen(pen_for(s.copy, faded));
      name_graph(plot, *graph, (faded ? "compared: " : "") + legend_name(s.copy), named);
    }
  }
  drop_graphs_from(plot, g);
}

void StatisticsView::fill_per_channel() {
  auto& plot = *plots_[kPerChannel];
  const auto& latest = history_.latest();
  const auto& sel = history_.selection();
  plot.yAxis->setLabel(QString::fromStdString(sel.statistic));
  const engine::LayerStats* stats = nullptr;
  if (latest) {
    for (const auto& layer : latest->layers) {
      if (layer.layer == sel.layer && layer.sync_point == 0) stats = &layer;
    }
  }
  titles_[kPerChannel]->setText(
      stats ? QString("%1: %2 per channel at step %3")
                  .arg(QString::fromStdString(sel.layer), QString::fromStdString(sel.statistic))
                  .arg(latest->step)
            : QString("per channel: select a synchronized layer and take a step"));
  if (!stats) {
    drop_graphs_from(plot, 0);
    return;
  }
  std::vector<int> copies;
  for (const auto& c : stats->copies) copies.push_back(c.copy);
  copies.push_back(store::kSynchronizedCopy);
  copies.push_back(store::kRunningCopy);
  QSet<QString> named;
  int g = 0;
  for (int copy : copies) {
    std::vector<double> x, y;
    double value = 0;
    for (int64_t ch = 0; statistic_value(*stats, sel.statistic, copy, ch, value); ++ch) {
      x.push_back(static_cast<double>(ch));
      y.push_back(value);
    }
    if (x.empty()) continue;
    auto* graph = graph_at(plot, g++);
    set_graph_data(*graph, x, y);
    graph->setPen(pen_for(copy));
    graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
    name_graph(plot, *graph, legend_name(copy), named);
  }
  drop_graphs_from(plot, g);
}

void StatisticsView::fill_divergence() {
  auto& plot = *plots_[kDivergence];
  QSet<QString> named;
  int g = 0;
  // Buckets of one pixel column of the visible range (all steps unless the user zoomed).
  const double steps = history_.steps().empty() ? 1.0 : history_.steps().back();
  const double visible = user_view_[kDivergence] ? plot.xAxis->range().size() : steps;
  const double bucket = std::max(1.0, visible / std::max(1, plot.axisRect()->width()));
  if (drawn_epoch_[kDivergence] != history_.epoch()) envelopes_.clear();
  drawn_epoch_[kDivergence] = history_.epoch();
  for (const auto& [layer, series] : history_.divergence()) {
    auto* graph = graph_at(plot, g);
    auto& envelope = envelopes_[layer];
    extend_envelope(series, bucket, envelope);
    set_graph_data(*graph, envelope.x, envelope.y);
    auto pen = QPen(kLayerColours[g % 10], layer == history_.selection().layer ? 2.5 : 1.2);
    graph->setPen(pen);
    name_graph(plot, *graph, QString::fromStdString(layer), named);
    ++g;
  }
  drop_graphs_from(plot, g);
}

void StatisticsView::fill_loss() {
  auto& plot = *plots_[kLoss];
  const bool append = only_new_points(kLoss);
  drawn_epoch_[kLoss] = history_.epoch();
  QSet<QString> named;
  auto* loss = graph_at(plot, 0);
  set_graph_data(*loss, history_.steps(), history_.loss(), append);
  loss->setPen(QPen(Qt::black, 1.5));
  name_graph(plot, *loss, "loss", named);
  auto* accuracy = graph_at(plot, 1);
  set_graph_data(*accuracy, history_.steps(), history_.accuracy(), append);
  accuracy->setPen(QPen(QColor(44, 160, 44), 1.5));
  name_graph(plot, *accuracy, "accuracy", named);
}

}  // namespace replicascope::ui
