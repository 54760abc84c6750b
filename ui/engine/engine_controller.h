// The UI thread's handle on the engine thread: posts requests, never waits for training.
// Results come back as queued signals. A paused breakpoint is resumed directly (the engine
// thread is inside the step then), everything else is queued.
#pragma once

#include <QObject>
#include <QThread>

#include <memory>
#include <set>
#include <string>

#include "engine/engine_types.h"
#include "replicascope/engine/breakpoints.h"

namespace replicascope::ui {

struct EngineShared;
class EngineWorker;

class EngineController : public QObject {
  Q_OBJECT
 public:
  explicit EngineController(QObject* parent = nullptr);
  // Releases paused copies, stops after the current step and joins the engine thread.
  ~EngineController() override;

  void open(const SessionSpec& spec);
  void openRun(const QString& path);
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

  void setBreakpoints(const std::set<std::string>& layers);
  void toggleBreakpoint(const std::string& layer);
  std::set<std::string> breakpoints() const;
  void resume(engine::ResumeMode mode);
  bool isPaused() const;

 signals:
  void opened(replicascope::ui::ModelSnapshotPtr snapshot);
  void stepped(replicascope::ui::StepRecordPtr record);
  void runningChanged(bool running);
  void paused(replicascope::ui::BreakpointHitPtr hit);
  void resumed();
  void seriesReady(replicascope::ui::SeriesReplyPtr reply);
  void sessionReset(const QString& run_path);
  void failed(const QString& what);
  void breakpointsChanged();

 private:
  std::shared_ptr<EngineShared> shared_;
  QThread thread_;
  EngineWorker* worker_ = nullptr;  // lives on thread_, deleted when it finishes
  bool running_ = false;
};

}  // namespace replicascope::ui
