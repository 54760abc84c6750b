// SPDX-License-Identifier: GPL-3.0-or-later
// The UI's one view of the current session and its one command path to the engine: it owns the
// engine controller (nothing else reaches it), what the plots show (PlottedStatistics), the
// run follower (RunFollower), the snapshot of what is open and the current module, and tells
// every registered SessionViewer what happened. Panels ask it for changes (open, step, select a
// module, show a statistic, compare with a run, toggle a breakpoint) instead of talking to each
// other or to the engine.
#pragma once

#include <QObject>

#include <vector>

#include "controller/engine_controller.h"
#include "history/stats_history.h"
#include "session/plotted_statistics.h"
#include "session/run_follower.h"
#include "session/session_viewer.h"

namespace replicascope::ui {

class SessionContext : public QObject {
  Q_OBJECT
 public:
  explicit SessionContext(QObject* parent = nullptr);

  // Viewers are not owned; one must be removed (or outlive the context) before it is destroyed.
  void add_viewer(SessionViewer* viewer);
  void remove_viewer(SessionViewer* viewer);

  // Commands to the engine thread; none waits for it. What they cause comes back to the viewers.
  void open(const SessionSetup& setup);  // a model (or the demo) to train
  void open_run(const QString& path);    // a recorded run to view
  // `count` more steps after those still to do: a click during a step counts too.
  void step(int64_t count = 1);
  void run();    // until pause()
  void pause();  // after the current step; a step paused at a breakpoint stays paused
  void stop();   // after the current step, releasing copies paused at a breakpoint
  void reset();
  void resume(engine::ResumeMode mode);  // copies paused at a breakpoint go on
  bool running() const { return engine_.running(); }
  bool paused() const { return engine_.isPaused(); }

  const StatsHistory& history() const { return plots_.history(); }
  // What is open; null before the first open.
  const ModelSnapshot* snapshot() const { return snapshot_.get(); }
  bool live() const { return snapshot_ && snapshot_->live; }

  // The current module ("" for none). Every viewer hears of a change; when the module has
  // statistics, the plots show it with the statistic and channels last asked for: one request
  // to the engine thread, and the plots redraw once, when its answer comes (on_history_changed).
  const std::string& selected() const { return selected_; }
  // A layer's first call is plotted (a layer called more than once a step has a call selector).
  void select(const std::string& module);
  // One call (sync point) of a layer: a heatmap row, an entry of the worst layers.
  void select_call(const std::string& layer, int64_t sync_point);
  // Whether the plots can show `module`: a synchronized layer of a live session, or a layer a
  // recorded run kept statistics for.
  bool has_statistics(const std::string& module) const;
  // The statistic, channels and sync point the plots show of the plotted layer (the last
  // selected layer with statistics; `values.layer` is ignored). Asks for the series when a layer
  // is plotted.
  void plot_values(const store::SeriesSelection& values) { plots_.plot_values(values); }
  const store::SeriesSelection& plotted() const { return plots_.plotted(); }
  // Shows every channel of the plotted layer at a recorded step that kept them (the Per-channel
  // view draws it as history().latest()); in a live session the view stays on that step while
  // training goes on, until show_newest_channels().
  void show_channels_at(int64_t step) { plots_.show_channels_at(step); }
  void show_newest_channels() { plots_.show_newest_channels(); }
  // Asks which steps of the live session's run kept every channel (on_kept_steps answers).
  void request_kept_steps() { engine_.readKeptSteps(); }

  // Draws other runs faded beside this one (sync versus unsync), on the Over steps, Loss and
  // Divergence tabs, besides any compared before; an empty list clears every comparison.
  void compare_with(const QStringList& run_paths) { plots_.compare_with(run_paths); }
  const QStringList& compared() const { return plots_.compared(); }

  // A recorded run is followed while it is open (RunFollower), so a run another process is
  // writing shows its new steps; following() is true while it grows.
  bool following() const { return follower_.following(); }

  // What the rules found in what is open: an empty report until a live session's first step or
  // a recorded run's check (the engine thread checks it after its open, and as it grows).
  const FindingsReport& findings() const { return *findings_; }
  // The selected finding (null: none), and its index in findings().findings (-1: none). A
  // finding stays selected as it grows; a recorded run opens with its most severe selected.
  const diagnose::Finding* selected_finding() const;
  int selected_finding_index() const { return selected_finding_; }
  // Selects the finding at `index` (-1: none): its layer and call are selected where the plots
  // can show them, and every viewer goes to it (on_finding_selected).
  void select_finding(int index);

  // Tells every viewer that something the user asked for failed (on_error).
  void report_error(const QString& what);

  // A breakpoint on `module`'s sync points; false (and nothing set) when it has none.
  bool toggle_breakpoint(const std::string& module);
  void clear_breakpoints();
  const std::set<std::string>& breakpoints() const { return engine_.breakpoints(); }

 signals:
  // After the viewers were told: for code that is not a panel (the GUI's main, tests).
  void opened(replicascope::ui::ModelSnapshotPtr snapshot);
  void stepped(replicascope::ui::StepRecordPtr record);
  void findingsChanged(replicascope::ui::FindingsPtr report);
  void failed(const QString& what);

 private:
  void connect_engine();
  void on_opened(const ModelSnapshotPtr& snapshot);
  void on_stepped(const StepRecordPtr& record);
  void on_run_grew(const ModelSnapshotPtr& grown);
  void on_findings(const FindingsPtr& report);
  // No findings yet: a session opened or reset (told to the viewers).
  void clear_findings(bool live);
  void select_first_layer();
  void set_selection(const std::string& module, int64_t sync_point = 0);
  template <class F>
  void tell(F&& call) {
    const auto viewers = viewers_;  // a viewer may register or leave during the call
    for (auto* viewer : viewers) call(*viewer);
  }

  EngineController engine_;
  PlottedStatistics plots_;  // what the plots show, and the requests that fill it
  ModelSnapshotPtr snapshot_;
  std::string selected_;
  std::vector<SessionViewer*> viewers_;
  FindingsPtr findings_ = std::make_shared<FindingsReport>();
  int selected_finding_ = -1;
  bool select_at_open_ = false;  // a recorded run's first report selects its most severe finding
  QString findings_error_;       // why the run could not be checked, said once
  RunFollower follower_;
};

}  // namespace replicascope::ui
