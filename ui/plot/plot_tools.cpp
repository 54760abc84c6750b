// SPDX-License-Identifier: GPL-3.0-or-later
#include "plot/plot_tools.h"

#include <qcustomplot.h>

#include <QApplication>
#include <QClipboard>
#include <QMimeData>
#include <cmath>
#include <limits>
#include <ostream>

#include "replicascope/base/atomic_write.h"

namespace replicascope::ui {

void enable_interactions(QCustomPlot& plot) {
  plot.setInteractions(QCP::iRangeDrag | QCP::iRangeZoom | QCP::iSelectLegend |
                       QCP::iSelectPlottables);
  plot.setNoAntialiasingOnDrag(true);
}

void set_log_scale(QCustomPlot& plot, bool on) {
  if (on) {
    plot.yAxis->setScaleType(QCPAxis::stLogarithmic);
    plot.yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  } else {
    plot.yAxis->setScaleType(QCPAxis::stLinear);
    plot.yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  }
}

HiddenLayer::HiddenLayer(QCustomPlot& plot, const char* name) : layer_(plot.layer(name)) {
  if (!layer_) return;
  was_visible_ = layer_->visible();
  layer_->setVisible(false);
}

HiddenLayer::~HiddenLayer() {
  if (layer_) layer_->setVisible(was_visible_);
}

PlotTracer::PlotTracer(QCustomPlot& plot) : QObject(&plot), plot_(plot) {
  connect(&plot_, &QCustomPlot::mouseMove, this, &PlotTracer::on_mouse_move);
  plot_.installEventFilter(this);  // Leave: the label goes with the mouse
  attach();
}

void PlotTracer::attach() {
  if (!plot_.layer(kTracerLayer)) {
    plot_.addLayer(kTracerLayer, plot_.layer("overlay"), QCustomPlot::limAbove);
    // Its own buffer: moving the tracer redraws this layer only, not the lines beneath.
    plot_.layer(kTracerLayer)->setMode(QCPLayer::lmBuffered);
  }
  auto* previous = plot_.currentLayer();
  plot_.setCurrentLayer(kTracerLayer);
  tracer_ = new QCPItemTracer(&plot_);
  tracer_->setStyle(QCPItemTracer::tsCircle);
  tracer_->setSize(8);
  tracer_->setPen(QPen(Qt::red));
  tracer_->setVisible(false);
  label_ = new QCPItemText(&plot_);
  label_->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
  label_->position->setParentAnchor(tracer_->position);
  label_->position->setCoords(8, -8);
  label_->setBrush(QBrush(QColor(255, 255, 255, 220)));
  label_->setPadding(QMargins(3, 2, 3, 2));
  label_->setVisible(false);
  plot_.setCurrentLayer(previous);
}

bool PlotTracer::trace_at(const QPointF& pixel) {
  last_pixel_ = pixel;
  const double x = plot_.xAxis->pixelToCoord(pixel.x());
  QCPGraph* best = nullptr;
  double best_distance = std::numeric_limits<double>::infinity();
  double best_key = 0, best_value = 0;
  for (int i = 0; i < plot_.graphCount(); ++i) {
    auto* graph = plot_.graph(i);
    if (!graph->visible() || graph->data()->isEmpty() || is_graph_decoration(*graph)) continue;
    // The first point at or after x, or the one before it if that is nearer.
    auto it = graph->data()->findBegin(x, /*expandedRange=*/false);
    if (it == graph->data()->constEnd()) --it;
    if (it != graph->data()->constBegin()) {
      auto before = it - 1;
      if (std::abs(before->key - x) < std::abs(it->key - x)) it = before;
    }
    const double distance = std::abs(graph->valueAxis()->coordToPixel(it->value) - pixel.y());
    if (distance < best_distance) {
      best = graph, best_distance = distance, best_key = it->key, best_value = it->value;
    }
  }
  const bool found = best != nullptr;
  tracer_->setVisible(found);
  label_->setVisible(found);
  if (found) {
    tracer_->setGraph(best);
    tracer_->setGraphKey(best_key);
    label_->setText(QString("%1\n%2 %3: %4")
                        .arg(best->name(), plot_.xAxis->label())
                        .arg(best_key)
                        .arg(best_value, 0, 'g', 6));
  }
  return found;
}

void PlotTracer::clear() {
  if (!label_->visible() && !tracer_->visible()) return;
  tracer_->setVisible(false);
  label_->setVisible(false);
  tracer_->setGraph(nullptr);  // the graph may go before the next trace
  plot_.layer(kTracerLayer)->replot();
}

void PlotTracer::refresh() {
  if (label_->visible()) trace_at(last_pixel_);
}

QString PlotTracer::text() const {
  return label_->visible() ? label_->text() : QString();
}

bool PlotTracer::visible() const {
  return label_->visible();
}

bool PlotTracer::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() == QEvent::Leave) clear();
  return QObject::eventFilter(watched, event);
}

void PlotTracer::on_mouse_move(QMouseEvent* event) {
  last_pixel_ = event->position();
  trace_at(last_pixel_);
  plot_.layer(kTracerLayer)->replot();
}

namespace {

// The names of the lines the user selected, by clicking a line or its legend entry.
QSet<QString> selected_names(const QCustomPlot& plot) {
  QSet<QString> names;
  for (int i = 0; i < plot.graphCount(); ++i) {
    auto* graph = plot.graph(i);
    auto* item = plot.legend ? plot.legend->itemWithPlottable(graph) : nullptr;
    if (graph->selected() || (item && item->selected())) names.insert(graph->name());
  }
  return names;
}

}  // namespace

namespace {

constexpr const char* kColumnsProperty[] = {"rs_layer",  "rs_sync_point", "rs_statistic",
                                            "rs_series", "rs_channel",    "rs_step"};
constexpr int kColumns = 6;
constexpr const char* kSmoothingProperty = "rs_smoothing";
constexpr const char* kDecorationProperty = "rs_decoration";

QString csv_field(QString text) {
  if (!text.contains(',') && !text.contains('"') && !text.contains('\n')) return text;
  text.replace('"', "\"\"");
  return '"' + text + '"';
}

GraphColumns columns_of(const QCustomPlot& plot, const QCPGraph& graph) {
  QString values[kColumns];
  for (int i = 0; i < kColumns; ++i) values[i] = graph.property(kColumnsProperty[i]).toString();
  GraphColumns columns{values[0], values[1], values[2], values[3], values[4], values[5]};
  if (columns.statistic.isEmpty()) columns.statistic = plot.yAxis->label();
  if (columns.series.isEmpty()) columns.series = graph.name();
  // A smoothed line's values are not the statistic's own: the CSV says so.
  const auto smoothing = graph.property(kSmoothingProperty).toDouble();
  if (smoothing > 0) columns.statistic += QString(" (smoothed %1)").arg(smoothing);
  return columns;
}

QString number(double value) {
  return QString::number(value, 'g', 17);
}

}  // namespace

void set_graph_decoration(QCPGraph& graph) {
  graph.setProperty(kDecorationProperty, true);
}

bool is_graph_decoration(const QCPGraph& graph) {
  return graph.property(kDecorationProperty).toBool();
}

void set_graph_smoothing(QCPGraph& graph, double weight) {
  graph.setProperty(kSmoothingProperty, weight);
}

std::vector<double> smoothed(const std::vector<double>& values, double weight) {
  // TensorBoard's: an exponential moving average divided by (1 - weight^n), so that the first
  // points are not pulled towards 0; a NaN or infinity is shown as it is and left out.
  std::vector<double> out(values.size());
  double average = 0;
  int finite = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      out[i] = values[i];
      continue;
    }
    average = average * weight + (1 - weight) * values[i];
    ++finite;
    out[i] = weight >= 1 ? values[i] : average / (1 - std::pow(weight, finite));
  }
  return out;
}

void set_graph_columns(QCPGraph& graph, const GraphColumns& columns) {
  const QString* values[] = {&columns.layer,  &columns.sync_point, &columns.statistic,
                             &columns.series, &columns.channel,    &columns.step};
  for (int i = 0; i < kColumns; ++i) graph.setProperty(kColumnsProperty[i], *values[i]);
}

QString visible_csv(const QCustomPlot& plot) {
  // The columns of `replicascope-cli export`'s: a layer called twice a step is one layer name
  // with its sync point beside it.
  QString out = "layer,sync_point,statistic,series,channel,step,value\n";
  const auto range = plot.xAxis->range();
  const auto selected = selected_names(plot);
  for (int i = 0; i < plot.graphCount(); ++i) {
    const auto* graph = plot.graph(i);
    if (!graph->visible() || is_graph_decoration(*graph)) continue;
    if (!selected.isEmpty() && !selected.contains(graph->name())) continue;
    const auto c = columns_of(plot, *graph);
    const bool x_is_channel = !c.step.isEmpty();
    const auto prefix = csv_field(c.layer) + ',' + c.sync_point + ',' + csv_field(c.statistic) +
                        ',' + csv_field(c.series) + ',';
    for (auto it = graph->data()->findBegin(range.lower, false);
         it != graph->data()->constEnd() && it->key <= range.upper; ++it) {
      if (it->key < range.lower) continue;
      const auto x = number(it->key);
      out += prefix + (x_is_channel ? x : csv_field(c.channel)) + ',' +
             (x_is_channel ? c.step : x) + ',' + number(it->value) + '\n';
    }
  }
  return out;
}

void save_visible_csv(const QCustomPlot& plot, const QString& path) {
  const auto text = visible_csv(plot).toStdString();
  write_text_atomically(path.toStdString(), [&](std::ostream& out) { out << text; });
}

void copy_plot_to_clipboard(QCustomPlot& plot, int width, int height) {
  auto* mime = new QMimeData;
  {
    const HiddenLayer no_tracer(plot, kTracerLayer);
    mime->setImageData(plot.toPixmap(width, height).toImage());
  }
  mime->setText(visible_csv(plot));
  QApplication::clipboard()->setMimeData(mime);
}

}  // namespace replicascope::ui
