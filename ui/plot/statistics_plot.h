// SPDX-License-Identifier: GPL-3.0-or-later
// The statistics plot: a recorded statistic of one layer over steps, each copy's line beside
// the synchronized one (bold) and the running one (dashed). QCustomPlot, so it draws offscreen
// too, for the CLI's exports.
#pragma once

#include <qcustomplot.h>

#include <QPen>
#include <QString>

#include <map>
#include <string>
#include <vector>

#include "replicascope/store/series.h"

namespace replicascope::ui {

struct PlotLabels {
  QString title;  // "features.1: mean"
  QString x_axis = "step";
  QString y_axis;  // "mean"
  // False for a run trained with per-copy BatchNorm: its whole-batch line is not called
  // "synchronized" (series_label).
  bool synchronized = true;
};

// Lays `plot` out once: a title above one axis rect, and the legend (PlotLegend) beside it, on
// the right, never over the data. Returns the title element, to change its text later.
QCPTextElement* prepare_plot(QCustomPlot& plot, const PlotLabels& labels);

// The line of a key: a colour per copy, the synchronized line black and bold, the running one
// grey and dashed, a rank's dotted. `faded` draws another run's line. Legends name a line by
// its key's label().
QPen pen_for(const SeriesKey& key, bool faded = false);

// The dash pattern of the r-th compared run's lines on the Loss and Divergence tabs (and on
// Over steps when several runs are compared).
Qt::PenStyle compared_dash(size_t r);

// A line's name in legends: its key's label(), except that the whole batch's statistics of a
// session that does not synchronize are not called "synchronized": no copy uses them. In a run
// of several processes (`of_ranks`) the copies are rank 0's ("rank 0, copy 1"): the only copies
// a run file keeps, beside each rank's merge over its copies ("rank 1").
QString series_label(const SeriesKey& key, bool synchronized = true, bool of_ranks = false);

// Whether the line of `key` repeats another of `keys`: rank 0's one copy holds the same values
// as rank 0's merge over its copies, so a run of one copy per process draws it once, as rank 0.
bool repeats_rank_zero(const SeriesKey& key, const std::vector<SeriesKey>& keys);
// Whether `keys` are those of a run of several processes (it has a rank's line).
bool of_ranks(const std::vector<SeriesKey>& keys);

// A series' channel in legends and CSV: "3", or "mean over channels".
QString channel_label(int64_t channel);

// How a series is drawn, so that one layer is one drawing, live or read back from its run: what
// every step has (a key's mean over channels) as a line; a channel's values as points, since a
// run keeps them for a sample of its steps (a line would show values between them that no step
// had). The i-th channel shown has its own marker (channel_marker).
void style_series(QCPGraph& graph, const store::Series& series, int64_t first_channel = 0);
QCPScatterStyle::ScatterShape channel_marker(int64_t i);

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
