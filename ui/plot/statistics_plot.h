// The statistics plot: a recorded statistic of one layer over steps, each copy's line beside
// the synchronized one (bold) and the running one (dashed). QCustomPlot, so it draws offscreen
// too, for the CLI's exports.
#pragma once

#include <QPen>
#include <QString>

#include <map>
#include <string>
#include <vector>

#include "replicascope/store/series.h"

class QCustomPlot;
class QCPGraph;
class QCPTextElement;

namespace replicascope::ui {

struct PlotLabels {
  QString title;  // "features.1: mean"
  QString x_axis = "step";
  QString y_axis;  // "mean"
  // False for a run trained with per-copy BatchNorm: its whole-batch line is not called
  // "synchronized" (series_label).
  bool synchronized = true;
};

// Lays `plot` out once: a title above one axis rect whose legend sits inside, top right.
// Returns the title element, to change its text later.
QCPTextElement* prepare_plot(QCustomPlot& plot, const PlotLabels& labels);

// The line of a key: a colour per copy, the synchronized line black and bold, the running one
// grey and dashed, a rank's dotted. `faded` draws another run's line. Legends name a line by
// its key's label().
QPen pen_for(const SeriesKey& key, bool faded = false);

// The dash pattern of the i-th channel shown (solid, dashed, dotted, ...), repeating.
Qt::PenStyle channel_dash(int64_t i);

// The dash pattern of the r-th compared run's lines on the Loss and Divergence tabs (and on
// Over steps when several runs are compared).
Qt::PenStyle compared_dash(size_t r);

// A line's name in legends: its key's label(), except that the whole batch's statistics of a
// session that does not synchronize are not called "synchronized": no copy uses them.
QString series_label(const SeriesKey& key, bool synchronized = true);

// A series' channel in legends and CSV: "3", or "mean over channels".
QString channel_label(int64_t channel);

// A series with steps missing between its points (a channel of a run that keeps per-channel
// detail for a sample of its steps) is drawn as points: a line between them would show values
// no step had.
void draw_sampled_as_points(QCPGraph& graph, const store::Series& series);

// Adds one graph per series to a prepared plot; the legend names one line per copy.
void add_series(QCustomPlot& plot, const std::vector<store::Series>& series, bool faded = false,
                const QString& legend_prefix = {}, bool synchronized = true);

// Replaces what `plot` shows with `series`.
void draw_statistics(QCustomPlot& plot, const std::vector<store::Series>& series,
                     const PlotLabels& labels);

// Saves what `plot` shows, width x height pixels (points for PDF), as PNG, JPG, PDF or SVG by
// the file's extension, atomically. Throws std::runtime_error for another extension or a file
// that cannot be written, naming it.
void save_plot(QCustomPlot& plot, const QString& path, int width, int height);

}  // namespace replicascope::ui
