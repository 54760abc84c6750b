// SPDX-License-Identifier: GPL-3.0-or-later
#include <QToolTip>
#include <algorithm>
#include <cmath>
#include <limits>

#include "panels/statistics/statistics_tabs.h"

namespace replicascope::ui {
namespace {

constexpr int kWorstShown = 2;    // in the title, which must fit a narrow plot
constexpr int kLabelWidth = 170;  // pixels: a longer row name loses its middle, never its ends

}  // namespace

// The y axis' row names: every k-th row, k chosen each time the axis is drawn so that the names
// are a line apart at the height the plot has then (a resize redraws without the data).
class RowTicker : public QCPAxisTicker {
 public:
  explicit RowTicker(const QCPAxis& axis) : axis_(axis) {}
  std::vector<QString> names;

 protected:
  double getTickStep(const QCPRange& range) override {
    const double line = QFontMetrics(axis_.tickLabelFont()).height() + 1;
    const double pixels = std::max(1, axis_.axisRect()->height());
    return std::max(1.0, std::ceil(line * range.size() / pixels));
  }
  int getSubTickCount(double) override { return 0; }
  QVector<double> createTickVector(double step, const QCPRange& range) override {
    const auto every = static_cast<int64_t>(step);
    const auto top = std::min<int64_t>(static_cast<int64_t>(std::floor(range.upper)),
                                       static_cast<int64_t>(names.size()) - 1);
    auto row = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(range.lower)));
    row = (row + every - 1) / every * every;
    QVector<double> ticks;
    for (; row <= top; row += every) ticks << static_cast<double>(row);
    return ticks;
  }
  QString getTickLabel(double tick, const QLocale&, QChar, int) override {
    const auto row = static_cast<size_t>(std::lround(tick));
    return row < names.size() ? names[row] : QString();
  }

 private:
  const QCPAxis& axis_;
};

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
  plotLayout()->take(legend);  // the rows are named on the axis; the scale sits beside
  plotLayout()->addElement(1, 1, scale_);
  legend->setVisible(false);
  title_->setSelectable(false);
  title_->setFont(QFont("sans", 9));  // over one column of a layout that has two
  // The title fits its column (name_worst), never the column the title: at the width the
  // layout gives it, the names are elided again.
  title_->setMinimumSize(1, 0);
  connect(this, &QCustomPlot::afterLayout, this, [this] {
    if (map_->visible() && title_->rect().width() != titled_for_) name_worst();
  });
  yAxis->setRangeReversed(true);  // the first layer at the top, as in the module tree
  rows_ = QSharedPointer<RowTicker>::create(*yAxis);
  yAxis->setTicker(rows_);
  band_ = std::make_unique<StepBand>(*this);
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
  rows_of_ = history.divergence_rows();
  drew(history);
  const auto& steps = history.steps();
  map_->setVisible(!rows_of_.empty() && !steps.empty());
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
  const int rows = static_cast<int>(rows_of_.size());
  auto* data = map_->data();
  data->setSize(columns, rows);
  // Cells are centred on their coordinates (row r on r); a lone row or column has no neighbour
  // to size it by, so its range is its cell's extent.
  const auto extent = [](double lo, double hi, int cells) {
    return cells > 1 ? QCPRange(lo, hi) : QCPRange(lo - 0.5, hi + 0.5);
  };
  data->setRange(extent(first, last, columns), extent(0, rows - 1, rows));
  data->fill(0);
  const double per_step = last > first ? (columns - 1) / (last - first) : 0;
  first_step_ = first;
  columns_per_step_ = per_step;
  worst_.clear();
  for (int row = 0; row < rows; ++row) {
    static const store::Series kNone;  // (every row has a series; none would leave it white)
    const auto* found = history.divergence_of(rows_of_[row]);
    const auto& series = found ? *found : kNone;
    double worst = 0;
    for (size_t i = 0; i < series.steps.size() && i < series.values.size(); ++i) {
      const int column = static_cast<int>((series.steps[i] - first) * per_step + 0.5);
      const double value = series.values[i];
      const double cell = data->cell(column, row);
      // NaN wins, as it must show.
      if (std::isnan(value) || value > cell) data->setCell(column, row, value);
      if (!std::isnan(worst) && (std::isnan(value) || value > worst)) worst = value;
    }
    worst_.emplace_back(worst, rows_of_[row]);
  }
  name_rows();
  std::stable_sort(worst_.begin(), worst_.end(), [](const auto& a, const auto& b) {
    return std::isnan(a.first) ? !std::isnan(b.first) : a.first > b.first;
  });
  colour_from_zero();
  name_worst();
  place_mark();
}

void HeatmapTab::mark(const diagnose::Finding* finding) {
  marked_.reset();
  if (finding) marked_ = *finding;
  place_mark();
}

void HeatmapTab::place_mark() {
  if (!marked_ || marked_->layer.empty()) {  // the loss's finding: its steps, every layer
    band_->mark(marked_ ? &*marked_ : nullptr);
    return;
  }
  const auto row = std::find_if(rows_of_.begin(), rows_of_.end(), [this](const LayerCall& call) {
    return call.layer == marked_->layer && call.sync_point == marked_->sync_point;
  });
  // A layer not drawn yet is marked when its row is.
  band_->mark(row == rows_of_.end() ? nullptr : &*marked_,
              static_cast<int>(row - rows_of_.begin()));
}

void HeatmapTab::name_rows() {
  const QFontMetrics metrics(yAxis->tickLabelFont());
  rows_->names.clear();
  for (const auto& row : rows_of_) {
    rows_->names.push_back(metrics.elidedText(row.name(), Qt::ElideMiddle, kLabelWidth));
  }
}

void HeatmapTab::colour_from_zero() {
  // White is no divergence: the scale starts at 0, not at the smallest value drawn (which made
  // a layer whose copies all differed look as if they agreed).
  double top = 0;
  for (const auto& [value, row] : worst_) {
    if (std::isfinite(value)) top = std::max(top, value);
  }
  map_->setDataRange(QCPRange(0, top > 0 ? top : 1));
}

void HeatmapTab::name_worst() {
  // Whole names, or their middle elided so that the title fits: the start says where in the
  // model the layer is ("features.15..."), the end which one; the values always show. A short
  // first name leaves its room to the next.
  const QFontMetrics metrics(title_->font());
  const size_t shown = std::min<size_t>(worst_.size(), kWorstShown);
  QStringList values;
  // Before the first layout, the plot's width less the colour scale's column.
  titled_for_ = title_->rect().width();
  const int column = titled_for_ > 0 ? titled_for_ - 4 : width() - 120;
  int room = std::max(80, column) - metrics.horizontalAdvance("worst: ") -
             metrics.horizontalAdvance(", ") * static_cast<int>(shown > 0 ? shown - 1 : 0);
  for (size_t i = 0; i < shown; ++i) {
    values << QString(" (%1)").arg(worst_[i].first, 0, 'g', 3);
    room -= metrics.horizontalAdvance(values.back());
  }
  QStringList names;
  for (size_t i = 0; i < shown; ++i) {
    const int budget = std::max(60, room / static_cast<int>(shown - i));
    const auto name = metrics.elidedText(worst_[i].second.name(), Qt::ElideMiddle, budget);
    room -= metrics.horizontalAdvance(name);
    names << name + values[static_cast<int>(i)];
  }
  title_->setText("worst: " + names.join(", "));
}

void HeatmapTab::fit_axes() {
  if (!map_->visible()) return;
  // Whole cells: centred on their coordinates, the first and last rows and columns were cut in
  // half by an axis that ended on those coordinates.
  const auto* data = map_->data();
  const auto half = [](const QCPRange& range, int cells) {
    return cells > 1 ? range.size() / (cells - 1) / 2 : 0.0;
  };
  const auto keys = data->keyRange(), rows = data->valueRange();
  xAxis->setRange(keys.lower - half(keys, data->keySize()),
                  keys.upper + half(keys, data->keySize()));
  yAxis->setRange(rows.lower - half(rows, data->valueSize()),
                  rows.upper + half(rows, data->valueSize()));
}

bool HeatmapTab::shows_data() const {
  return map_->visible();
}

LayerCall HeatmapTab::call_at(double pixel_y) const {
  if (!map_->visible()) return {};
  const double row = std::round(yAxis->pixelToCoord(pixel_y));
  if (row < 0 || row >= static_cast<double>(rows_of_.size())) return {};
  return rows_of_[static_cast<size_t>(row)];
}

QString HeatmapTab::describe_at(const QPointF& pixel) const {
  const auto call = call_at(pixel.y());
  if (call.layer.empty() || !axisRect()->rect().contains(pixel.toPoint())) return {};
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
  return QString("%1\n%2 %3").arg(call.name(), steps).arg(value, 0, 'g', 4);
}

}  // namespace replicascope::ui
