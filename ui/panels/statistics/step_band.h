// SPDX-License-Identifier: GPL-3.0-or-later
// The selected finding's steps on a plot over steps (Over steps, Divergence, Loss): a translucent
// band in its severity's colour over every step from its first to its last (each step as the
// slot around it, from half a step before the first to half a step after the last), beneath the
// lines on a layer of its own, its kind written at the top. On the heatmap it outlines the
// finding's row instead, over the same steps, so the cells stay readable. Items, not graphs: the
// axes' ranges, the tracer, the legend and the CSV leave it out.
#pragma once

#include <QString>

#include <cstdint>
#include <optional>

#include "replicascope/diagnose/finding.h"

class QCustomPlot;
class QCPItemRect;
class QCPItemText;

namespace replicascope::ui {

class StepBand {
 public:
  // The layer under the graphs' the band is drawn on.
  static constexpr const char* kLayer = "finding";

  explicit StepBand(QCustomPlot& plot);
  // Marks the finding's steps over the whole height, or outlines them in `row` (a y coordinate:
  // the heatmap's row of the finding's layer call); null: nothing is marked. Returns whether
  // the band changed (the plot shows it when it is next drawn).
  bool mark(const diagnose::Finding* finding, std::optional<int> row = std::nullopt);
  std::optional<int> row() const { return row_; }
  bool shown() const;
  // The band's edges on the step axis (half a step either side of the steps it marks).
  double left() const;
  double right() const;
  QString label() const;

 private:
  QCPItemRect* rect_ = nullptr;
  QCPItemText* label_ = nullptr;
  int64_t first_ = 0, last_ = 0;
  std::optional<int> row_;
};

}  // namespace replicascope::ui
