// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/statistics/statistics_tab.h"

#include <QMenu>
#include <cmath>

namespace replicascope::ui {
namespace {

// Marks a graph whose scatter style draw() set for a lone point, so it can be taken back.
constexpr const char* kLoneMarker = "replicascope_lone_marker";
// The fewest steps (or channels) the x axis spans: zoomed further in, it would have no whole
// step to label.
constexpr double kFewestSteps = 2;
// Markers at the ends of an axis are drawn whole: the ranges leave this many pixels beyond them.
constexpr int kMarkerRoom = 5;

// Widens `axis`' range by `pixels` at both ends.
void pad_range(QCPAxis& axis, int pixels) {
  const double length =
      axis.orientation() == Qt::Horizontal ? axis.axisRect()->width() : axis.axisRect()->height();
  if (length <= 4.0 * pixels) return;
  const auto range = axis.range();
  const double share = pixels / (length - 2.0 * pixels);
  if (axis.scaleType() == QCPAxis::stLogarithmic) {
    if (!(range.lower > 0)) return;
    const double factor = std::pow(range.upper / range.lower, share);
    axis.setRange(range.lower / factor, range.upper * factor);
  } else {
    axis.setRange(range.lower - range.size() * share, range.upper + range.size() * share);
  }
}

// Sets a flag for the lifetime of the guard.
struct FlagGuard {
  explicit FlagGuard(bool& flag) : flag_(flag) { flag_ = true; }
  ~FlagGuard() { flag_ = false; }
  bool& flag_;
};

}  // namespace

StatisticsTab::StatisticsTab(const PlotLabels& labels) {
  setMinimumSize(320, 220);
  title_ = prepare_plot(*this, labels);
  legend->setVisible(false);  // until there are lines to name (draw())
  enable_interactions(*this);
  tracer_ = new PlotTracer(*this);
  notice_ = new QCPItemText(this);
  notice_->setLayer("overlay");
  notice_->position->setType(QCPItemPosition::ptAxisRectRatio);
  notice_->position->setCoords(0.5, 0.5);
  notice_->setPositionAlignment(Qt::AlignCenter);
  notice_->setTextAlignment(Qt::AlignCenter);
  notice_->setPadding(QMargins(8, 6, 8, 6));
  notice_->setBrush(QBrush(QColor(255, 250, 220, 235)));
  notice_->setPen(QPen(QColor(200, 180, 90)));
  notice_->setClipToAxisRect(false);
  notice_->setVisible(false);
  // A drag or a wheel turn that moved an axis means the user chose the view; a click that moved
  // nothing does not (it selects a line).
  for (auto* axis : {xAxis, yAxis}) {
    connect(axis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
      if (!auto_ranging_) set_user_view(true);
    });
  }
  keep_whole_steps();
  connect(this, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent* event) {
    // On a legend entry the double click toggles that line; elsewhere it resets the view.
    if (legend->visible() && legend->selectTest(event->position(), false) >= 0) return;
    reset_view();
  });
  connect(this, &QCustomPlot::legendDoubleClick, this,
          [this](QCPLegend*, QCPAbstractLegendItem* item, QMouseEvent*) {
            if (auto* entry = qobject_cast<QCPPlottableLegendItem*>(item))
              toggle_series(entry->plottable()->name());
          });
  setContextMenuPolicy(Qt::CustomContextMenu);
  connect(this, &QWidget::customContextMenuRequested, this, &StatisticsTab::show_context_menu);
}

void StatisticsTab::keep_whole_steps() {
  connect(xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
          [this](const QCPRange& range) {
            if (range.size() >= kFewestSteps) return;
            const double middle = range.center();
            xAxis->setRange(middle - kFewestSteps / 2, middle + kFewestSteps / 2);
          });
}

StatisticsTab::~StatisticsTab() {
  // The tracer filters this widget's events; none may reach it once the plot's items are gone.
  removeEventFilter(tracer_);
}

void StatisticsTab::toggle_series(const QString& name) {
  bool show = false;
  for (int g = 0; g < graphCount(); ++g) {
    if (graph(g)->name() == name) show = !graph(g)->visible();
  }
  for (int g = 0; g < graphCount(); ++g) {
    auto* line = graph(g);
    if (line->name() != name) continue;
    line->setVisible(show);
    if (auto* item = legend->itemWithPlottable(line))
      item->setTextColor(show ? Qt::black : QColor(160, 160, 160));
  }
  if (!user_view_) auto_range();
  update_notice();
  replot(QCustomPlot::rpQueuedReplot);
}

void StatisticsTab::set_legend_wanted(bool on) {
  legend_wanted_ = on;
  legend->setVisible(on && legend->itemCount() > 0);
  replot(QCustomPlot::rpQueuedReplot);
}

void StatisticsTab::show_context_menu(const QPoint& at) {
  QMenu menu(this);
  auto* show_legend = menu.addAction("Show legend");
  show_legend->setCheckable(true);
  show_legend->setChecked(legend_wanted_);
  connect(show_legend, &QAction::toggled, this, [this](bool on) { set_legend_wanted(on); });
  auto* reset = menu.addAction("Reset view (auto-range)");
  reset->setEnabled(user_view_);
  connect(reset, &QAction::triggered, this, [this] { reset_view(); });
  menu.addSection("double-click a legend entry to hide or show its line");
  menu.exec(mapToGlobal(at));
}

void StatisticsTab::draw(const StatsHistory& history) {
  // The tracer and the lines the user hid belong to a view: another one (history.view()) drops
  // them; new or fresher data for the same view (a step, a followed run's read) keeps them.
  const bool same_view = drawn_view_ == history.view();
  drawn_view_ = history.view();
  smoothed_ = false;
  fill(history);
  // The title says the lines are smoothed (fill() may or may not have set the title anew).
  auto title = title_->text();
  if (!title_suffix_.isEmpty() && title.endsWith(title_suffix_)) title.chop(title_suffix_.size());
  title_suffix_ = smoothed_ ? QString(" (smoothed %1)").arg(smoothing_) : QString();
  title_->setText(title + title_suffix_);
  if (!same_view) {
    // Another view: every line is shown again (hidden ones were lines of the old view).
    for (int g = 0; g < graphCount(); ++g) {
      graph(g)->setVisible(true);
      if (auto* item = legend->itemWithPlottable(graph(g))) item->setTextColor(Qt::black);
    }
  }
  mark_lone_points();
  if (!user_view_) auto_range();
  update_notice();
  legend->setVisible(legend_wanted_ && legend->itemCount() > 0);  // no empty box over the hint
  if (same_view) {
    tracer_->refresh();
  } else {
    tracer_->clear();
  }
}

void StatisticsTab::reset_view() {
  set_user_view(false);
  auto_range();
  replot(QCustomPlot::rpQueuedReplot);
}

void StatisticsTab::set_user_view(bool on) {
  if (user_view_ == on) return;
  user_view_ = on;
  if (on_user_view_changed) on_user_view_changed(on);
}

void StatisticsTab::set_smoothing(double weight) {
  smoothing_ = weight;
  forget();
}

void StatisticsTab::set_line(QCPGraph& graph, const std::vector<double>& x,
                             const std::vector<double>& y, bool append) {
  set_graph_smoothing(graph, smoothing_);
  if (smoothing_ <= 0) {
    set_graph_data(graph, x, y, append);
    return;
  }
  smoothed_ = true;
  set_graph_data(graph, x, smoothed(y, smoothing_));
}

void StatisticsTab::set_log_scale(bool on) {
  const FlagGuard own(auto_ranging_);  // a log axis moves a range that reaches zero or below
  ui::set_log_scale(*this, on);
}

void StatisticsTab::auto_range() {
  const FlagGuard own(auto_ranging_);
  fit_axes();
}

void StatisticsTab::fit_axes() {
  rescaleAxes(/*onlyVisiblePlottables=*/true);
  // One step (or one channel, or one value) has no width: QCustomPlot would keep the old width
  // around it (an x axis from -1.5); one unit either side of it instead.
  QCPRange keys, values;
  bool any_key = false, any_value = false, markers = false;
  const auto merge = [](QCPRange& into, bool& any, const QCPRange& range) {
    if (any) {
      into.expand(range);
    } else {
      into = range;
    }
    any = true;
  };
  const auto sign = yAxis->scaleType() == QCPAxis::stLogarithmic ? QCP::sdPositive : QCP::sdBoth;
  for (int g = 0; g < graphCount(); ++g) {
    const auto* graph = this->graph(g);
    if (!graph->visible()) continue;
    markers = markers || !graph->scatterStyle().isNone();
    bool found = false;
    const auto k = graph->getKeyRange(found);
    if (found) merge(keys, any_key, k);
    const auto v = graph->getValueRange(found, sign);
    if (found) merge(values, any_value, v);
  }
  if (!any_key) {
    // Nothing drawn: an axis of its own, not the last data's (another session's, say).
    xAxis->setRange(0, kFewestSteps);
    yAxis->setRange(0, 1);
    return;
  }
  if (keys.size() == 0) {
    xAxis->setRange(keys.lower - 1, keys.upper + 1);
  } else if (markers) {
    pad_range(*xAxis, kMarkerRoom);
  }
  if (any_value && values.size() == 0) {
    if (sign == QCP::sdPositive) {
      yAxis->setRange(values.lower / 2, values.upper * 2);
    } else {
      yAxis->setRange(values.lower - 0.5, values.upper + 0.5);
    }
  } else if (markers) {
    pad_range(*yAxis, kMarkerRoom);
  }
}

void StatisticsTab::mark_lone_points() {
  // A line of one point draws nothing: give it a marker until it has a second point.
  for (int g = 0; g < graphCount(); ++g) {
    auto* graph = this->graph(g);
    const bool lone = graph->dataCount() == 1 && graph->lineStyle() != QCPGraph::lsNone;
    const bool marked = graph->property(kLoneMarker).toBool();
    if (lone && graph->scatterStyle().isNone()) {
      graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 6));
      graph->setProperty(kLoneMarker, true);
    } else if (!lone && marked) {
      graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssNone));
      graph->setProperty(kLoneMarker, false);
    }
  }
}

bool StatisticsTab::shows_data() const {
  // Lines the user hid still count: the plot is not empty, the user emptied it.
  for (int g = 0; g < graphCount(); ++g) {
    if (graph(g)->dataCount() > 0) return true;
  }
  return false;
}

QString StatisticsTab::empty_hint() const {
  return "Nothing to draw yet.\nStep (F10) or Run (F5) trains the model; select a synchronized "
         "layer\nin the Modules panel. File > Open opens a model or a recorded run.";
}

void StatisticsTab::update_notice() {
  int points = 0, below = 0;
  const bool log = yAxis->scaleType() == QCPAxis::stLogarithmic;
  for (int g = 0; g < graphCount(); ++g) {
    const auto* graph = this->graph(g);
    if (!graph->visible() || is_graph_decoration(*graph)) continue;
    points += graph->dataCount();
    if (!log) continue;
    for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it) {
      if (!(it->value > 0)) ++below;
    }
  }
  QString text;
  double top = 0.5;  // in the middle when nothing is drawn; at the top over drawn lines
  if (!shows_data()) {
    text = empty_hint();
  } else if (points > 0 && below == points) {
    text = QString(
               "Log scale cannot draw these values: all %1 are zero or negative.\n"
               "Untick \"log scale\" to see them.")
               .arg(points);
  } else if (below > 0) {
    text = QString("Log scale: %1 of %2 values are zero or negative and not drawn.")
               .arg(below)
               .arg(points);
    top = 0.06;
  }
  notice_->position->setCoords(0.5, top);
  notice_->setPositionAlignment(top < 0.5 ? Qt::AlignTop | Qt::AlignHCenter : Qt::AlignCenter);
  notice_->setText(text);
  notice_->setVisible(!text.isEmpty());
}

QString StatisticsTab::title_text() const {
  return title_->text();
}

QString StatisticsTab::notice() const {
  return notice_->visible() ? notice_->text() : QString();
}

bool StatisticsTab::only_new_points(const StatsHistory& history) const {
  // Epochs start at 1 once anything was selected or cleared; 0 means never drawn.
  return drawn_epoch_ != 0 && drawn_epoch_ == history.epoch();
}

QCPGraph* StatisticsTab::graph_at(int i) {
  while (graphCount() <= i) addGraph(xAxis, yAxis);
  return graph(i);
}

void StatisticsTab::drop_graphs_from(int count) {
  while (graphCount() > count) removeGraph(graphCount() - 1);
}

void StatisticsTab::name_graph(QCPGraph& graph, const QString& name, QSet<QString>& named) {
  graph.setName(name);
  const bool first = !named.contains(name);
  if (first) named.insert(name);
  if (first && !legend->hasItemWithPlottable(&graph)) graph.addToLegend();
  if (!first) graph.removeFromLegend();
}

void set_graph_data(QCPGraph& graph, const std::vector<double>& x, const std::vector<double>& y,
                    bool append) {
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

}  // namespace replicascope::ui
