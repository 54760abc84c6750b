// SPDX-License-Identifier: GPL-3.0-or-later
// The UI thread's handle on the engine thread: posts requests through one RequestQueue and never
// waits for training; results come back as queued signals. The one exception is the breakpoint
// gate: while copies are paused at a sync point the engine thread is inside the step and cannot
// serve requests, so resume() and stop() reach the (thread-safe) gate directly.
#pragma once

#include <QObject>
#include <QThread>

#include <memory>
#include <set>
#include <string>

#include "controller/engine_types.h"
#include "controller/request_queue.h"
#include "replicascope/engine/resume_mode.h"

namespace replicascope::engine {
class BreakpointGate;
}  // namespace replicascope::engine

namespace replicascope::ui {

class EngineWorker;

class EngineController : public QObject {
  Q_OBJECT
 public:
  explicit EngineController(QObject* parent = nullptr);
  // Releases paused copies, stops after the current step and joins the engine thread.
  ~EngineController() override;

  void open(const SessionSetup& setup);
  void openRun(const QString& path);
  // `count` more steps after those still to do (a click during a step adds one), at most
  // kMaxQueuedSteps waiting.
  void step(int64_t count = 1);
  void run();  // until pause()
  // Stops after the current step; a step paused at a breakpoint stays paused.
  void pause();
  // Stops after the current step and releases copies paused at a breakpoint.
  void stop();
  void reset();
  bool running() const { return running_; }

  // Asks for the statistic series; a newer request replaces one not yet served.
  void requestSeries(const SeriesRequest& request);
  // Asks for one recorded step's channels; a newer request replaces one not yet served.
  void requestChannels(const ChannelsRequest& request);
  // Reads the open recorded run again (another process may be writing it): runPolled answers.
  // A newer poll replaces a queued one.
  void pollRun(const QString& path);
  // Reads another run's steps and divergence once (comparisonRead answers): the Loss and
  // Divergence tabs draw them beside this run's.
  void readComparison(const QString& path);
  // Reads which steps of the live session's run kept every channel (keptStepsRead answers); a
  // newer request replaces a queued one.
  void readKeptSteps();

  void setBreakpoints(const std::set<std::string>& layers);
  void toggleBreakpoint(const std::string& layer);
  const std::set<std::string>& breakpoints() const { return breakpoints_; }
  void resume(engine::ResumeMode mode);
  bool isPaused() const { return paused_; }
  // Requests not yet taken by the engine thread (for tests).
  size_t pendingRequests() const { return queue_->pending(); }

 signals:
  void opened(replicascope::ui::ModelSnapshotPtr snapshot);
  void stepped(replicascope::ui::StepRecordPtr record);
  void runningChanged(bool running);
  void paused(replicascope::ui::BreakpointHitPtr hit);
  void resumed();
  void seriesReady(replicascope::ui::SeriesReplyPtr reply);
  void channelsReady(replicascope::ui::ChannelsReplyPtr reply);
  void runPolled(replicascope::ui::RunPollPtr poll);
  void comparisonRead(replicascope::ui::RunPollPtr run);
  void keptStepsRead(replicascope::ui::KeptStepsPtr steps);
  void findingsChanged(replicascope::ui::FindingsPtr report);
  void sessionReset(const QString& run_path);
  void failed(const QString& what);
  void openFailed(const QString& what, const QStringList& proposed);
  void breakpointsChanged();

 private:
  void post(RequestQueue::Request request, const std::string& tag = {});
  QThread thread_;
  EngineWorker* worker_ = nullptr;  // lives on thread_, deleted when it finishes
  std::unique_ptr<RequestQueue> queue_;
  std::shared_ptr<engine::BreakpointGate> gate_;
  std::set<std::string> breakpoints_;  // what the UI set; the gate gets a copy
  bool running_ = false;
  bool paused_ = false;
};

}  // namespace replicascope::ui
