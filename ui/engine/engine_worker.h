// The engine thread's side: owns the training session and its run database. Every slot runs on
// the engine thread; the controller reaches it only by queued calls and shared atomics.
#pragma once

#include <QObject>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include "engine/engine_types.h"
#include "replicascope/engine/breakpoints.h"

namespace replicascope::store {
class RunWriter;
}

namespace replicascope::ui {

// What the UI thread and the engine thread share without queueing.
struct EngineShared {
  std::atomic<int64_t> steps_wanted{0};  // steps still to run; 0 pauses after the current one
  std::atomic<int64_t> current_step{0};  // the step in progress, or the last one
  std::mutex mutex;
  std::optional<SeriesRequest> pending_series;  // the newest request replaces an older one
  std::shared_ptr<engine::BreakpointGate> gate;
};

class EngineWorker : public QObject {
  Q_OBJECT
 public:
  explicit EngineWorker(std::shared_ptr<EngineShared> shared);
  ~EngineWorker() override;

 public slots:
  void open(const replicascope::ui::SessionSpec& spec);
  void openRun(const QString& path);
  // Starts stepping: steps_wanted says how many; the steps go one per event, so that requests
  // queued meanwhile are served between them.
  void startSteps();
  void reset();
  void serveSeries();

 signals:
  void opened(replicascope::ui::ModelSnapshotPtr snapshot);
  void stepped(replicascope::ui::StepRecordPtr record);
  void runningChanged(bool running);
  void paused(replicascope::ui::BreakpointHitPtr hit);
  void seriesReady(replicascope::ui::SeriesReplyPtr reply);
  void failed(const QString& what);
  // Back at step 0, recording to a new run file.
  void sessionReset(const QString& run_path);

 private:
  void stepOnce();
  void close();
  std::shared_ptr<EngineShared> shared_;
  std::unique_ptr<engine::Session> session_;
  std::unique_ptr<store::RunWriter> writer_;
  QString run_path_;
  bool stepping_ = false;
};

}  // namespace replicascope::ui
