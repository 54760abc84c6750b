// The UI's one view of the current session: it owns the engine controller, the plotted history,
// the snapshot of what is open and the current module, and tells every registered SessionViewer
// what happened. Panels ask it for changes (select a module, show a statistic, compare with a
// run, toggle a breakpoint) instead of talking to each other.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <vector>

#include "controller/engine_controller.h"
#include "history/stats_history.h"
#include "session/session_viewer.h"

namespace replicascope::ui {

class SessionContext : public QObject {
  Q_OBJECT
 public:
  explicit SessionContext(QObject* parent = nullptr);

  // Viewers are not owned; one must be removed (or outlive the context) before it is destroyed.
  void add_viewer(SessionViewer* viewer);
  void remove_viewer(SessionViewer* viewer);

  EngineController& engine() { return engine_; }
  const EngineController& engine() const { return engine_; }
  const StatsHistory& history() const { return history_; }
  // What is open; null before the first open.
  const ModelSnapshot* snapshot() const { return snapshot_.get(); }
  bool live() const { return snapshot_ && snapshot_->live; }

  // The current module ("" for none). Every viewer hears of a change; when the module has
  // statistics, the plots show it with the statistic and channels last asked for.
  const std::string& selected() const { return selected_; }
  void select(const std::string& module);
  // Whether the plots can show `module`: a synchronized layer of a live session, or a layer a
  // recorded run kept statistics for.
  bool has_statistics(const std::string& module) const;
  // The statistic and channels the plots show (the selection's layer is the plotted one).
  void show_statistics(const store::SeriesSelection& selection);
  // Shows every channel of the plotted layer at a recorded step that kept them (the Per-channel
  // view draws it as history().latest()); in a live session the view stays on that step while
  // training goes on, until show_newest_channels().
  void show_channels_at(int64_t step);
  void show_newest_channels();
  // Asks which steps of the live session's run kept every channel (on_kept_steps answers).
  void request_kept_steps() { engine_.readKeptSteps(); }

  // Draws other runs faded beside this one (sync versus unsync), on the Over steps, Loss and
  // Divergence tabs, besides any compared before; an empty list clears every comparison.
  void compare_with(const QStringList& run_paths);
  const QStringList& compared() const { return compared_; }

  // A recorded run is read again every half second (longer for a big one) while it is open, so
  // a run another process is writing is followed live; following() is true while it grows.
  bool following() const { return following_; }
  static constexpr int kPollIntervalMs = 500;
  static constexpr int kFailedPollsToReport = 6;  // 3 s of failed reads in a row

  // Tells every viewer that something the user asked for failed (on_error).
  void report_error(const QString& what);

  // A breakpoint on `module`'s sync points; false (and nothing set) when it has none.
  bool toggle_breakpoint(const std::string& module);

 private:
  void on_opened(const ModelSnapshotPtr& snapshot);
  void on_stepped(const StepRecordPtr& record);
  void on_run_polled(const RunPollPtr& poll);
  void set_following(bool on);
  void select_first_layer();
  void request_series();
  void set_selection(const std::string& module);
  template <class F>
  void tell(F&& call) {
    const auto viewers = viewers_;  // a viewer may register or leave during the call
    for (auto* viewer : viewers) call(*viewer);
  }

  EngineController engine_;
  StatsHistory history_;
  ModelSnapshotPtr snapshot_;
  std::string selected_;
  store::SeriesSelection shown_;  // the statistic and channels last asked for
  QStringList compared_;
  std::vector<SessionViewer*> viewers_;
  QTimer poll_timer_;
  QElapsedTimer since_growth_;
  bool following_ = false;
  // A live session's Per-channel view is on an older recorded step (show_channels_at): new
  // steps do not replace it. newest_ is the newest live step, for show_newest_channels.
  bool pinned_ = false;
  int64_t channels_step_ = -1;  // the recorded step the Per-channel view last asked for
  StepRecordPtr newest_;
  int failed_polls_ = 0;
};

}  // namespace replicascope::ui
