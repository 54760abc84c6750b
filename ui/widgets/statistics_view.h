// The statistics panel: four plots over one StatsHistory.
//   Over steps   the selected layer's statistic per copy and channel, synchronized bold,
//                running dashed, and another run's lines faded beneath (sync versus unsync);
//   Per channel  every channel at the newest step, per copy and synchronized;
//   Divergence   per layer, how far the copies' local means are from the synchronized mean
//                (the largest per pixel column when there are more steps than pixels);
//   Loss         loss and accuracy.
// Redraws are throttled: schedule_replot() coalesces requests to 25 per second at most.
#pragma once

#include <QElapsedTimer>
#include <QTimer>
#include <QWidget>

#include <array>
#include <map>
#include <string>

#include "model/stats_history.h"

class QCustomPlot;
class QCPTextElement;
class QCheckBox;
class QComboBox;
class QSpinBox;
class QTabWidget;

namespace replicascope::ui {

class PlotTracer;

class StatisticsView : public QWidget {
  Q_OBJECT
 public:
  enum Tab { kOverSteps, kPerChannel, kDivergence, kLoss, kTabCount };
  static constexpr int kMinReplotIntervalMs = 40;  // 25 Hz

  explicit StatisticsView(const StatsHistory& history, QWidget* parent = nullptr);

  // A layer's divergence envelope (the largest value per pixel column), extended as steps come.
  struct Envelope {
    double bucket = 0;  // steps per point
    size_t used = 0;    // points of the series already in it
    int64_t slot = 0;
    std::vector<double> x, y;
  };

  // The controls' statistic and channels for `layer`, which has `channels` channels.
  StatsSelection selection_for(const std::string& layer) const;
  void set_channel_count(int64_t channels);
  void set_log_scale(bool on);
  void show_tab(Tab tab);

  QCustomPlot* plot(Tab tab) const { return plots_[tab]; }
  QCustomPlot* current_plot() const;
  PlotTracer* tracer(Tab tab) const { return tracers_[tab]; }
  // Redraws soon (at most 25 times a second).
  void schedule_replot();
  // Redraws the current plot now, adding the points that came since the last redraw.
  void replot_now();
  // Redraws the current plot with every line's data set afresh.
  void rebuild_now();
  int replots() const { return replots_; }

 signals:
  // The statistic or channel range changed: the owner asks for the new series.
  void selectionEdited();

 private:
  void fill_over_steps();
  void fill_per_channel();
  void fill_divergence();
  void fill_loss();
  void rescale(QCustomPlot& plot);
  // True when `tab` drew the history's current epoch: its lines only need the new points.
  bool only_new_points(Tab tab) const;

  const StatsHistory& history_;
  QTabWidget* tabs_ = nullptr;
  std::array<QCustomPlot*, kTabCount> plots_{};
  std::array<QCPTextElement*, kTabCount> titles_{};
  std::array<PlotTracer*, kTabCount> tracers_{};
  std::array<bool, kTabCount> user_view_{};  // zoomed or dragged: keep the user's ranges
  std::array<uint64_t, kTabCount> drawn_epoch_{};
  std::map<std::string, Envelope> envelopes_;
  QComboBox* statistic_ = nullptr;
  QSpinBox* first_channel_ = nullptr;
  QSpinBox* last_channel_ = nullptr;
  QCheckBox* log_scale_ = nullptr;
  QTimer throttle_;
  QElapsedTimer since_replot_;
  int replots_ = 0;
};

}  // namespace replicascope::ui
