// One tab of the statistics panel: a plot that draws one view of the history. Each tab is its
// own small class (statistics_tabs.h); the panel (StatisticsView) owns the controls, picks the
// tab and throttles the redraws.
#pragma once

#include <qcustomplot.h>

#include <vector>

#include "history/stats_history.h"
#include "plot/plot_tools.h"
#include "plot/statistics_plot.h"

namespace replicascope::ui {

class StatisticsTab : public QCustomPlot {
 public:
  explicit StatisticsTab(const PlotLabels& labels);

  // Draws the history: only the points that came since the last time when the history's epoch
  // is the one drawn then, every line afresh otherwise.
  virtual void fill(const StatsHistory& history) = 0;
  // Forgets what was drawn: the next fill() starts afresh.
  virtual void forget() { drawn_epoch_ = 0; }

  PlotTracer* tracer() const { return tracer_; }
  // Zoomed or dragged: the user chose the view, so redraws keep the axes' ranges.
  bool user_view() const { return user_view_; }
  void set_user_view(bool on) { user_view_ = on; }

 protected:
  // True when this tab drew the history's current epoch: its lines only need the new points.
  bool only_new_points(const StatsHistory& history) const;
  void drew(const StatsHistory& history) { drawn_epoch_ = history.epoch(); }
  // The graph at index i, added when missing (its data is replaced); graphs past `count` go.
  QCPGraph* graph_at(int i);
  void drop_graphs_from(int count);
  // One legend entry per distinct name.
  void name_graph(QCPGraph& graph, const QString& name, QSet<QString>& named);

  QCPTextElement* title_ = nullptr;

 private:
  PlotTracer* tracer_ = nullptr;
  bool user_view_ = false;
  uint64_t drawn_epoch_ = 0;
};

// Gives `graph` the points (x, y). With `append`, the points it has are taken to be the first
// of them (same series, same epoch) and only the new ones are added.
void set_graph_data(QCPGraph& graph, const std::vector<double>& x, const std::vector<double>& y,
                    bool append = false);

}  // namespace replicascope::ui
