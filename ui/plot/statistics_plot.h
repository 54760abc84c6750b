// The statistics plot: a recorded statistic of one layer over steps, each copy's line beside
// the synchronized one (bold) and the running one (dashed). QCustomPlot, so it draws offscreen
// too, for the CLI's exports.
#pragma once

#include <QString>

#include <vector>

#include "replicascope/store/series.h"

class QCustomPlot;

namespace replicascope::ui {

struct PlotLabels {
  QString title;   // "features.1: mean"
  QString y_axis;  // "mean"
};

// Replaces what `plot` shows with `series`. Copies get one colour each (every channel of a
// copy the same colour); the legend names one line per copy.
void show_statistics(QCustomPlot& plot, const std::vector<store::Series>& series,
                     const PlotLabels& labels);

// Saves what `plot` shows, width x height pixels (points for PDF), as PNG, JPG, PDF or SVG by
// the file's extension, atomically. Throws std::runtime_error for another extension or a file
// that cannot be written, naming it.
void save_plot(QCustomPlot& plot, const QString& path, int width, int height);

}  // namespace replicascope::ui
