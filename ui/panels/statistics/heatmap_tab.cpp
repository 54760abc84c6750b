#include <QToolTip>
#include <algorithm>
#include <cmath>
#include <limits>

#include "panels/statistics/statistics_tabs.h"

namespace replicascope::ui {
namespace {

constexpr int kWorstShown = 2;       // in the title, which must fit a narrow plot
constexpr int kPixelsPerLabel = 14;  // a row name at most every 14 pixels
constexpr int kLabelWidth = 170;     // pixels: longer names keep their end ("...layer2.norm1")

// The end of a dotted name, where layers differ: "denselayer2.norm1".
QString short_name(const std::string& name) {
  const auto text = QString::fromStdString(name);
  const auto parts = text.split('.');
  return parts.size() <= 2 ? text : parts.mid(parts.size() - 2).join('.');
}

}  // namespace

HeatmapTab::HeatmapTab()
    : StatisticsTab({"divergence heatmap: a row per layer, in the model's order", "step", ""}) {
  map_ = new QCPColorMap(xAxis, yAxis);
  QCPColorGradient gradient;
  gradient.setColorStopAt(0.0, QColor(255, 255, 255));
  gradient.setColorStopAt(0.35, QColor(253, 190, 110));
  gradient.setColorStopAt(0.7, QColor(227, 74, 51));
  gradient.setColorStopAt(1.0, QColor(127, 0, 0));
  gradient.setNanHandling(QCPColorGradient::nhNanColor);
  gradient.setNanColor(QColor(0, 0, 0));  // a NaN divergence is the one thing to see
  map_->setInterpolate(false);
  map_->setTightBoundary(false);
  map_->removeFromLegend();
  scale_ = new QCPColorScale(this);
  scale_->setLabel("max |local - sync| / std");
  map_->setColorScale(scale_);  // the map takes the scale's gradient: set it on the scale
  scale_->setGradient(gradient);
  plotLayout()->addElement(1, 1, scale_);
  legend->setVisible(false);
  title_->setSelectable(false);
  title_->setFont(QFont("sans", 9));  // over one column of a layout that has two
  yAxis->setRangeReversed(true);      // the first layer at the top, as in the module tree
  yAxis->setTicker(QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText));
  // The values under the mouse, as a tooltip: the tracer follows lines, this has none.
  connect(this, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
    const auto text = describe_at(event->position());
    if (text.isEmpty()) {
      QToolTip::hideText();
    } else {
      QToolTip::showText(event->globalPosition().toPoint(), text, this);
    }
  });
}

void HeatmapTab::fill(const StatsHistory& history) {
  layers_ = history.divergence_layers();
  drew(history);
  const auto& steps = history.steps();
  map_->setVisible(!layers_.empty() && !steps.empty());
  if (!map_->visible()) {
    worst_.clear();
    title_->setText("divergence heatmap: nothing recorded yet");
    return;
  }
  const double first = steps.front(), last = steps.back();
  // A column per pixel at most: each holds the largest divergence of its steps, as the
  // Divergence tab's envelope does, so a spike is never averaged away.
  const int columns =
      static_cast<int>(std::clamp<double>(last - first + 1, 1, std::max(1, axisRect()->width())));
  const int rows = static_cast<int>(layers_.size());
  auto* data = map_->data();
  data->setSize(columns, rows);
  data->setRange(QCPRange(first, last), QCPRange(0, rows - 1));
  data->fill(0);
  const double per_step = last > first ? (columns - 1) / (last - first) : 0;
  first_step_ = first;
  columns_per_step_ = per_step;
  worst_.clear();
  for (int row = 0; row < rows; ++row) {
    const auto& series = history.divergence().at(layers_[row]);
    double worst = 0;
    for (size_t i = 0; i < series.steps.size() && i < series.values.size(); ++i) {
      const int column = static_cast<int>((series.steps[i] - first) * per_step + 0.5);
      const double value = series.values[i];
      const double cell = data->cell(column, row);
      // NaN wins, as it must show.
      if (std::isnan(value) || value > cell) data->setCell(column, row, value);
      if (!std::isnan(worst) && (std::isnan(value) || value > worst)) worst = value;
    }
    worst_.emplace_back(worst, layers_[row]);
  }
  map_->rescaleDataRange(true);
  // Row names: every k-th, so that they do not overlap.
  auto ticker = qSharedPointerCast<QCPAxisTickerText>(yAxis->ticker());
  ticker->clear();
  const int every = std::max(1, rows * kPixelsPerLabel / std::max(1, axisRect()->height()));
  const QFontMetrics metrics(yAxis->tickLabelFont());
  for (int row = 0; row < rows; row += every) {
    ticker->addTick(
        row, metrics.elidedText(QString::fromStdString(layers_[row]), Qt::ElideLeft, kLabelWidth));
  }
  std::stable_sort(worst_.begin(), worst_.end(), [](const auto& a, const auto& b) {
    return std::isnan(a.first) ? !std::isnan(b.first) : a.first > b.first;
  });
  QStringList names;
  for (size_t i = 0; i < worst_.size() && i < kWorstShown; ++i)
    names << QString("%1 (%2)").arg(short_name(worst_[i].second)).arg(worst_[i].first, 0, 'g', 3);
  title_->setText("worst: " + names.join(", "));
}

bool HeatmapTab::shows_data() const {
  return map_->visible();
}

std::string HeatmapTab::layer_at(double pixel_y) const {
  if (!map_->visible()) return {};
  const double row = std::round(yAxis->pixelToCoord(pixel_y));
  if (row < 0 || row >= static_cast<double>(layers_.size())) return {};
  return layers_[static_cast<size_t>(row)];
}

QString HeatmapTab::describe_at(const QPointF& pixel) const {
  const auto layer = layer_at(pixel.y());
  if (layer.empty() || !axisRect()->rect().contains(pixel.toPoint())) return {};
  int column = 0, row = 0;
  auto* data = map_->data();
  data->coordToCell(xAxis->pixelToCoord(pixel.x()), std::round(yAxis->pixelToCoord(pixel.y())),
                    &column, &row);
  if (column < 0 || column >= data->keySize()) return {};
  const double value = data->cell(column, row);
  // A column may hold several steps: say which, and that the value is their largest.
  QString steps = QString("step %1").arg(first_step_);
  if (columns_per_step_ > 0) {
    const auto lo =
        static_cast<int64_t>(std::ceil(first_step_ + (column - 0.5) / columns_per_step_));
    const auto hi =
        static_cast<int64_t>(std::ceil(first_step_ + (column + 0.5) / columns_per_step_)) - 1;
    steps = hi > lo ? QString("steps %1-%2: largest").arg(lo).arg(hi) : QString("step %1").arg(lo);
  }
  return QString("%1\n%2 %3").arg(QString::fromStdString(layer), steps).arg(value, 0, 'g', 4);
}

}  // namespace replicascope::ui
