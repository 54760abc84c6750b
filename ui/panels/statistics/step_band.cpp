// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/statistics/step_band.h"

#include <qcustomplot.h>

#include "itemmodels/findings_model.h"

namespace replicascope::ui {

StepBand::StepBand(QCustomPlot& plot) {
  if (!plot.layer(kLayer)) plot.addLayer(kLayer, plot.layer("main"), QCustomPlot::limBelow);
  rect_ = new QCPItemRect(&plot);
  label_ = new QCPItemText(&plot);
  for (auto* item : std::initializer_list<QCPAbstractItem*>{rect_, label_}) {
    item->setLayer(kLayer);
    item->setClipToAxisRect(true);
    item->setSelectable(false);
    item->setVisible(false);
  }
  // Steps along the x axis; the whole height of the axes, whatever their range.
  for (auto* corner : {rect_->topLeft, rect_->bottomRight}) {
    corner->setAxes(plot.xAxis, plot.yAxis);
    corner->setAxisRect(plot.axisRect());
    corner->setTypeX(QCPItemPosition::ptPlotCoords);
    corner->setTypeY(QCPItemPosition::ptAxisRectRatio);
  }
  label_->position->setParentAnchorX(rect_->topLeft);
  label_->position->setAxisRect(plot.axisRect());
  label_->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
  label_->position->setCoords(3, 0);  // 3 pixels into the band, at the top of the axes
  label_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
  label_->setPadding(QMargins(2, 2, 2, 2));
}

bool StepBand::mark(const diagnose::Finding* finding, std::optional<int> row) {
  if (!finding) {
    if (!shown()) return false;
    rect_->setVisible(false);
    label_->setVisible(false);
    return true;
  }
  const auto kind = QString::fromStdString(finding->kind);
  const auto colour = severity_colour(finding->severity);
  if (shown() && first_ == finding->first_step && last_ == finding->last_step && row_ == row &&
      label_->text() == kind && label_->color() == colour)
    return false;  // the same finding, not grown (a live step)
  first_ = finding->first_step;
  last_ = finding->last_step;
  row_ = row;
  // The whole height (axis rect ratios 0 to 1), or the row's cells (centred on its coordinate).
  const auto type = row ? QCPItemPosition::ptPlotCoords : QCPItemPosition::ptAxisRectRatio;
  rect_->topLeft->setTypeY(type);
  rect_->bottomRight->setTypeY(type);
  rect_->topLeft->setCoords(left(), row ? *row - 0.5 : 0);
  rect_->bottomRight->setCoords(right(), row ? *row + 0.5 : 1);
  label_->position->setTypeY(type);  // at the top of the axes, or of the outlined row
  label_->position->setCoords(3, row ? *row - 0.5 : 0);
  auto fill = colour;
  fill.setAlpha(40);
  // On the heatmap, over its cells: an outline in blue, which no cell of its white-to-red scale
  // hides (the severity's orange or red would vanish in the red rows it marks), and the kind on
  // a white ground.
  rect_->setPen(row ? QPen(QColor(0, 90, 255), 2) : QPen(colour, 1, Qt::DotLine));
  rect_->setBrush(row ? QBrush(Qt::NoBrush) : QBrush(fill));
  for (auto* item : std::initializer_list<QCPAbstractItem*>{rect_, label_})
    item->setLayer(row ? "overlay" : kLayer);
  label_->setBrush(row ? QBrush(QColor(255, 255, 255, 220)) : QBrush(Qt::NoBrush));
  label_->setText(kind);
  label_->setColor(colour);
  rect_->setVisible(true);
  label_->setVisible(true);
  return true;
}

bool StepBand::shown() const {
  return rect_->visible();
}

double StepBand::left() const {
  return static_cast<double>(first_) - 0.5;
}

double StepBand::right() const {
  return static_cast<double>(last_) + 0.5;
}

QString StepBand::label() const {
  return label_->text();
}

}  // namespace replicascope::ui
