// SPDX-License-Identifier: GPL-3.0-or-later
// What every interactive plot gets: zoom and drag, a tracer that reads the values under the
// cursor, a log-scale switch, and export of exactly what is visible (CSV, clipboard).
#pragma once

#include <QObject>
#include <QPointF>
#include <QString>

#include <vector>

class QCustomPlot;
class QCPItemTracer;
class QCPGraph;
class QCPItemText;
class QCPLayer;
class QMouseEvent;

namespace replicascope::ui {

// Wheel zooms, drag pans, a click on a legend item selects its line.
void enable_interactions(QCustomPlot& plot);
void set_log_scale(QCustomPlot& plot, bool on);

// The layer the tracer draws on: left out of every export (save_plot, the clipboard), since a
// label under the mouse is not part of what the plot shows.
inline constexpr const char* kTracerLayer = "tracer";

// Hides a plot's layer while it lives (exports leave the tracer out this way).
class HiddenLayer {
 public:
  HiddenLayer(QCustomPlot& plot, const char* name);
  ~HiddenLayer();
  HiddenLayer(const HiddenLayer&) = delete;
  HiddenLayer& operator=(const HiddenLayer&) = delete;

 private:
  QCPLayer* layer_ = nullptr;
  bool was_visible_ = false;
};

// A tracer on the line nearest the cursor, with a label (on a white background) giving its
// name, x and value. It never shows a stale value: it goes when the mouse leaves the plot or
// when the plot shows something else (clear()), and follows new data under a still cursor
// (refresh()).
class PlotTracer : public QObject {
  Q_OBJECT
 public:
  explicit PlotTracer(QCustomPlot& plot);
  // Re-creates the items after the plot was laid out anew (prepare_plot).
  void attach();
  // Moves the tracer to the line nearest to the pixel position; false when no line is there.
  bool trace_at(const QPointF& pixel);
  // Hides the tracer and its label until the mouse moves over the plot again.
  void clear();
  // The data changed under the cursor: reads the values at the same place again.
  void refresh();
  QString text() const;
  bool visible() const;

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void on_mouse_move(QMouseEvent* event);
  QCustomPlot& plot_;
  QCPItemTracer* tracer_ = nullptr;
  QCPItemText* label_ = nullptr;
  QPointF last_pixel_;
};

// What a line's points are, for the tidy CSV of what is visible. The x axis is the step unless
// `step` is set (then it is the channel, as in the Per-channel view).
struct GraphColumns {
  QString layer;       // the layer's name alone; "" for the loss
  QString sync_point;  // its call in a step, from 0 (as export's column); "" for the loss
  QString statistic;   // "mean", "var", "loss", "divergence"; "" for the y axis' label
  QString series;      // "copy 0", "synchronized", ...; "" for the line's name
  QString channel;     // "3", "mean over channels", or "" (none applies, or the x axis)
  QString step;        // set when the x axis is the channel
};
void set_graph_columns(QCPGraph& graph, const GraphColumns& columns);
// Marks a graph as drawn over the data rather than being data (the marks of the steps that kept
// every channel, on a line that has them): the tracer and the CSV leave it out.
void set_graph_decoration(QCPGraph& graph);
bool is_graph_decoration(const QCPGraph& graph);
// Marks a line as smoothed with `weight` (0: its own values), for the CSV's statistic column.
void set_graph_smoothing(QCPGraph& graph, double weight);
// TensorBoard's smoothing of a line: a debiased exponential moving average with `weight` (0 to
// below 1: the raw values to very smooth); NaN and infinite values stay and are left out.
std::vector<double> smoothed(const std::vector<double>& values, double weight);

// The visible data as tidy CSV: "layer,sync_point,statistic,series,channel,step,value" (the layer
// and sync point as `replicascope-cli export` writes them), one row per point
// inside the x axis range of every visible line, or of the selected ones when the user selected
// some (a click on a line or its legend entry): what the plot shows, not the whole history.
QString visible_csv(const QCustomPlot& plot);
// Writes visible_csv atomically; throws std::runtime_error naming the file when it cannot.
void save_visible_csv(const QCustomPlot& plot, const QString& path);
// Puts the plot on the clipboard as an image (width x height) and its visible data as text.
void copy_plot_to_clipboard(QCustomPlot& plot, int width, int height);

}  // namespace replicascope::ui
