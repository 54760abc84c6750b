// SPDX-License-Identifier: GPL-3.0-or-later
// The statistics panel: five tabs of plots over one StatsHistory.
//   Over steps   the selected layer's statistic per copy and channel, synchronized bold,
//                running dashed, and another run's lines faded beneath (sync versus unsync);
//   Per channel  every channel at the newest step, per copy and synchronized (for a recorded
//                run, at the kept step the step slider above its plot, in the tab, picks);
//   Divergence   per layer, how far the copies' local means are from the synchronized mean
//                (the largest per pixel column when there are more steps than pixels);
//   Heatmap      every layer's divergence over steps, a row per layer, the worst listed beside;
// a layer called more than once a step has a row (and a Divergence line) per call, and the
// controls' call selector picks the call Over steps, Per channel and Divergence draw;
//   Loss         loss and accuracy.
// The selected finding's steps are a band on Over steps, Divergence and Loss (StepBand); picking
// a finding shows the Loss tab for the loss's findings, and moves the Per-channel step slider to
// the kept step nearest its first step.
// Redraws are throttled: schedule_replot() coalesces requests to 25 per second at most. The
// controls row (StatisticsControls) and the Per-channel step slider (KeptStepSlider) are widgets
// of their own; this view hosts the tabs, redraws them and wires the pieces to the context.
#pragma once

#include <QElapsedTimer>
#include <QTimer>
#include <QWidget>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "history/stats_history.h"
#include "session/session_viewer.h"

class QComboBox;
class QCustomPlot;
class QPushButton;
class QSlider;
class QTabWidget;

namespace replicascope::ui {

class KeptStepSlider;
class PlotTracer;
class SessionContext;
class StatisticsControls;
class StatisticsTab;
class StepBand;
class WorstLayersList;

class StatisticsView : public QWidget, public SessionViewer {
  Q_OBJECT
 public:
  enum Tab { kOverSteps, kPerChannel, kDivergence, kHeatmap, kLoss, kTabCount };
  static constexpr int kMinReplotIntervalMs = 40;  // 25 Hz

  explicit StatisticsView(SessionContext& context, QWidget* parent = nullptr);
  // Draws `history` instead of the context's (benchmarks fill one of their own).
  StatisticsView(SessionContext& context, const StatsHistory& history, QWidget* parent = nullptr);
  ~StatisticsView() override;

  void on_opened(const ModelSnapshot& snapshot) override;
  void on_stepped(const replicascope::StepRecord& record) override;
  void on_reset() override;
  void on_kept_steps(const std::vector<int64_t>& steps) override;
  void on_history_changed() override { replot_now(); }
  void on_run_grew(const ModelSnapshot& snapshot) override;
  void on_selection_changed(const std::string& module) override;
  void on_findings_changed(const FindingsReport&, const diagnose::Finding* selected) override;
  void on_finding_selected(const diagnose::Finding* finding) override;

  // The controls' statistic and channels for `layer`, which has `channels` channels.
  void set_channel_count(int64_t channels);
  void set_log_scale(bool on);
  // The recorded steps the step slider moves between (those that kept every channel); in a live
  // session the slider's last position is the newest step, as training goes on.
  const std::vector<int64_t>& kept_steps() const;
  QSlider* step_slider() const;
  // TensorBoard's smoothing of the lines over steps (Over steps, Loss), 0 to 0.99 in hundredths.
  QSlider* smoothing_slider() const;
  void set_smoothing(double weight);
  void show_tab(Tab tab);

  QCustomPlot* plot(Tab tab) const;
  QCustomPlot* current_plot() const;
  StatisticsTab* current_tab() const;
  // Shown while the current plot's axes are the user's (zoomed or dragged), to give them back.
  QPushButton* reset_view_button() const { return reset_view_; }
  // Beside the heatmap: the worst layers, a click selects one.
  WorstLayersList* worst_layers() const { return worst_layers_; }
  // The controls' call selector: shown for a layer called more than once a step.
  QComboBox* call_selector() const;
  PlotTracer* tracer(Tab tab) const;
  // The selected finding's band on `tab` (Over steps, Divergence, Loss; null for the others).
  const StepBand* band(Tab tab) const { return bands_[tab].get(); }
  // Redraws soon (at most 25 times a second).
  void schedule_replot();
  // Redraws the current plot now, adding the points that came since the last redraw.
  void replot_now();
  // Redraws the current plot with every line's data set afresh.
  void rebuild_now();
  int replots() const { return replots_; }
  bool replot_scheduled() const { return throttle_.isActive(); }

 private:
  // The statistic or channel range changed: the plotted layer's series are asked for anew.
  void controls_edited();
  void connect_controls();  // the controls row: the series asked for, log scale, smoothing
  void build_reset_view();
  void build_tabs();
  void show_auto_range_state();
  // Every tab's axes follow the data again (another session, a Reset).
  void follow_the_data();
  // Whether `tab` draws the steps whose every channel the run keeps.
  static bool shows_kept_steps(int tab);
  // Bands the finding's steps (null: none) on the tabs over steps.
  void mark_finding(const diagnose::Finding* finding);

  SessionContext& context_;
  const StatsHistory& history_;
  QTabWidget* tabs_ = nullptr;
  std::array<StatisticsTab*, kTabCount> tabs_of_{};
  std::array<std::unique_ptr<StepBand>, kTabCount> bands_;
  StatisticsControls* controls_ = nullptr;
  KeptStepSlider* kept_step_slider_ = nullptr;  // in the Per channel tab, for kept steps
  QPushButton* reset_view_ = nullptr;
  WorstLayersList* worst_layers_ = nullptr;
  QTimer kept_timer_;  // a live session's kept steps are read at most once a second
  QTimer throttle_;
  QElapsedTimer since_replot_;
  int replots_ = 0;
};

}  // namespace replicascope::ui
