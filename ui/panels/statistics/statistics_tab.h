// SPDX-License-Identifier: GPL-3.0-or-later
// One tab of the statistics panel: a plot that draws one view of the history. Each tab is its
// own small class (statistics_tabs.h); the panel (StatisticsView) owns the controls, picks the
// tab and throttles the redraws.
#pragma once

#include <qcustomplot.h>

#include <functional>
#include <vector>

#include "history/stats_history.h"
#include "plot/plot_tools.h"
#include "plot/statistics_plot.h"

namespace replicascope::ui {

class StatisticsTab : public QCustomPlot {
 public:
  explicit StatisticsTab(const PlotLabels& labels);
  ~StatisticsTab() override;

  // Draws the history and keeps the plot truthful: the axes follow the data unless the user
  // chose the view; a lone point gets a marker; the tracer goes when the plot shows something
  // else (another layer, statistic, run or session) and reads the new values under a still
  // cursor otherwise; a notice says why nothing is drawn.
  void draw(const StatsHistory& history);
  // Forgets what was drawn: the next draw() starts afresh.
  virtual void forget() { drawn_epoch_ = 0; }

  PlotTracer* tracer() const { return tracer_; }
  // Zoomed or dragged: the user chose the view, so redraws keep the axes' ranges. A click alone
  // does not count; a double click or reset_view() gives the view back.
  bool user_view() const { return user_view_; }
  void reset_view();
  // Called with the new value whenever user_view() changes.
  std::function<void(bool)> on_user_view_changed;
  virtual void set_log_scale(bool on);
  // Hides or shows every line named `name` (a double click on its legend entry does this); a
  // hidden line is greyed in the legend, left out of the axes' ranges, the tracer and the CSV.
  // The plot showing something else (another layer, statistic, run) shows every line again.
  void toggle_series(const QString& name);
  // The legend, shown unless the user hid it (the plot's right-click menu).
  void set_legend_wanted(bool on);
  bool legend_wanted() const { return legend_wanted_; }
  // TensorBoard's smoothing of the lines over steps (0: their own values; see smoothed()): the
  // title and the CSV say it. The next draw() draws every line afresh.
  void set_smoothing(double weight);
  double smoothing() const { return smoothing_; }
  // The notice over the plot ("" for none): why nothing, or not everything, is drawn.
  QString notice() const;
  QString title_text() const;

 protected:
  // Draws the history: only the points that came since the last time when the history's epoch
  // is the one drawn then, every line afresh otherwise.
  virtual void fill(const StatsHistory& history) = 0;
  // What to do when the tab has nothing to draw.
  virtual QString empty_hint() const;
  // Whether there is anything to draw (default: a line with points, shown or hidden).
  virtual bool shows_data() const;
  // True when this tab drew the history's current epoch: its lines only need the new points.
  bool only_new_points(const StatsHistory& history) const;
  void drew(const StatsHistory& history) { drawn_epoch_ = history.epoch(); }
  // The graph at index i, added when missing (its data is replaced); graphs past `count` go.
  QCPGraph* graph_at(int i);
  void drop_graphs_from(int count);
  // Gives a line over steps its points, smoothed when set_smoothing asks for it (then always
  // afresh: each point depends on those before).
  void set_line(QCPGraph& graph, const std::vector<double>& x, const std::vector<double>& y,
                bool append = false);
  // One legend entry per distinct name.
  void name_graph(QCPGraph& graph, const QString& name, QSet<QString>& named);

  // Sets the axes' ranges to what the data takes (draw() and reset_view() call it, unless the
  // user chose the view): every visible line, markers whole at the borders, a lone point in the
  // middle of an axis from one step before it to one after; nothing drawn, steps 0 to 2.
  virtual void fit_axes();

  QCPTextElement* title_ = nullptr;

 private:
  void set_user_view(bool on);
  void auto_range();  // fit_axes(), as the plot's own change, not the user's
  void keep_whole_steps();
  void mark_lone_points();
  void update_notice();
  void show_context_menu(const QPoint& at);

  PlotTracer* tracer_ = nullptr;
  QCPItemText* notice_ = nullptr;
  bool user_view_ = false;
  bool legend_wanted_ = true;
  bool auto_ranging_ = false;  // the range changes now are the plot's own, not the user's
  uint64_t drawn_epoch_ = 0;
  uint64_t drawn_view_ = 0;
  double smoothing_ = 0;
  bool smoothed_ = false;  // a line of the last fill was smoothed
  QString title_suffix_;   // " (smoothed 0.6)" when it was
};

// Gives `graph` the points (x, y). With `append`, the points it has are taken to be the first
// of them (same series, same epoch) and only the new ones are added.
void set_graph_data(QCPGraph& graph, const std::vector<double>& x, const std::vector<double>& y,
                    bool append = false);

}  // namespace replicascope::ui
