// SPDX-License-Identifier: GPL-3.0-or-later
// The engine thread's side: owns the training session, its run file and one read connection to
// it. Its methods run on the engine thread only, as requests the controller posts through the
// RequestQueue; results go back as signals, which reach the UI thread queued.
#pragma once

#include <QElapsedTimer>
#include <QObject>

#include <atomic>
#include <memory>

#include "controller/engine_types.h"
#include "controller/request_queue.h"
#include "replicascope/engine/breakpoints.h"
#include "replicascope/engine/session_factory.h"

namespace replicascope::ui {

class EngineWorker : public QObject {
  Q_OBJECT
 public:
  EngineWorker();
  ~EngineWorker() override;
  // Where the worker posts its own next step, so that requests queued meanwhile go first.
  void set_queue(RequestQueue* queue) { queue_ = queue; }
  // The gate that pauses the copies at breakpoints. Thread-safe: the UI thread resumes it
  // directly, since the engine thread is inside the step while copies are paused.
  const std::shared_ptr<engine::BreakpointGate>& gate() const { return gate_; }

  // Builds the session with engine::make_session, recording to a new run file in
  // setup.runs_dir. The session open before stays when the new one fails.
  void open(const SessionSetup& setup);
  void openRun(const QString& path);
  // Steps `count` times (one step per request, so requests queued meanwhile are served between
  // them); 0 stops after the step in progress.
  void setStepsWanted(int64_t count);
  // `count` more steps after those still to do (at most kMaxQueuedSteps waiting); nothing changes
  // while it runs on (Run).
  void queueSteps(int64_t count);
  void reset();
  void serveSeries(const SeriesRequest& request);
  void serveChannels(const ChannelsRequest& request);
  // Reads the open recorded run again; says whether it grew (runPolled).
  void pollRun(const QString& path);
  // Reads another run's steps and divergence, to compare with (comparisonRead).
  void readComparison(const QString& path);
  // The live session's recorded steps (keptStepsRead; nothing before its first step).
  void readKeptSteps();
  // Reads the open recorded run through every rule (findingsChanged); a run that cannot be read
  // says why in the report.
  void diagnoseRun(const QString& path);

 signals:
  void opened(replicascope::ui::ModelSnapshotPtr snapshot);
  void stepped(replicascope::ui::StepRecordPtr record);
  void runningChanged(bool running);
  // Emitted on the paused master copy's thread: connect it queued.
  void paused(replicascope::ui::BreakpointHitPtr hit);
  void seriesReady(replicascope::ui::SeriesReplyPtr reply);
  void channelsReady(replicascope::ui::ChannelsReplyPtr reply);
  void runPolled(replicascope::ui::RunPollPtr poll);
  void comparisonRead(replicascope::ui::RunPollPtr run);
  void keptStepsRead(replicascope::ui::KeptStepsPtr steps);
  // After every live step, and for a recorded run after its open and as it grows.
  void findingsChanged(replicascope::ui::FindingsPtr report);
  void failed(const QString& what);
  // An open or openRun failed (also reported through failed); what was open stays open.
  // `proposed`: for a model that cannot take the data, the session's flags with data that
  // would fit (engine::ModelDataMismatch's proposal); else empty.
  void openFailed(const QString& what, const QStringList& proposed);
  // Back at step 0, recording to a new run file.
  void sessionReset(const QString& run_path);

 private:
  void stepOnce();
  void close();
  void fail_open(const QString& what, const QStringList& proposed = {});
  // The requested series of the run at `path`; `synchronized` tells whether its layers used the
  // synchronized statistics (its metadata).
  std::vector<store::Series> series_of(const QString& path, const SeriesRequest& request,
                                       bool* synchronized = nullptr);
  RequestQueue* queue_ = nullptr;
  std::shared_ptr<engine::BreakpointGate> gate_;
  engine::BuiltSession built_;                // the live session and its run file
  QString run_path_;                          // the run being written, or the recorded one
  std::unique_ptr<store::RunReader> reader_;  // reads run_path_ (opened on first use)
  size_t polled_steps_ = 0;                   // the recorded run's steps at the last read
  // A followed run is checked again when it grew, at most once a second (or a fifth of the
  // time, for a run that takes long to check).
  bool diagnosis_due_ = false;
  QElapsedTimer since_diagnosis_;
  qint64 diagnosis_ms_ = 0;
  int64_t steps_wanted_ = 0;
  bool stop_on_nonfinite_ = false;        // the session's spec: stop stepping at a NaN or infinity
  std::atomic<int64_t> current_step_{0};  // read by the pause handler on a copy thread
  bool stepping_ = false;
};

}  // namespace replicascope::ui
