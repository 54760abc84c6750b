// SPDX-License-Identifier: GPL-3.0-or-later
#include "controller/engine_controller.h"

#include <limits>

#include "controller/engine_worker.h"

namespace replicascope::ui {

EngineController::EngineController(QObject* parent) : QObject(parent) {
  qRegisterMetaType<SessionSetup>();
  qRegisterMetaType<StepRecordPtr>();
  qRegisterMetaType<ModelSnapshotPtr>();
  qRegisterMetaType<SeriesReplyPtr>();
  qRegisterMetaType<ChannelsReplyPtr>();
  qRegisterMetaType<BreakpointHitPtr>();
  qRegisterMetaType<RunPollPtr>();
  qRegisterMetaType<KeptStepsPtr>();
  qRegisterMetaType<FindingsPtr>();
  auto* worker = new EngineWorker;
  worker->moveToThread(&thread_);
  worker_ = worker;
  queue_ = std::make_unique<RequestQueue>(worker);
  worker->set_queue(queue_.get());
  gate_ = worker->gate();
  connect(&thread_, &QThread::finished, worker, &QObject::deleteLater);
  // Queued: the worker emits on the engine thread, `paused` on a copy thread.
  const auto queued = Qt::QueuedConnection;
  connect(worker, &EngineWorker::opened, this, &EngineController::opened, queued);
  connect(worker, &EngineWorker::stepped, this, &EngineController::stepped, queued);
  connect(
      worker, &EngineWorker::runningChanged, this,
      [this](bool running) {
        running_ = running;
        emit runningChanged(running);
      },
      queued);
  connect(
      worker, &EngineWorker::paused, this,
      [this](const BreakpointHitPtr& hit) {
        if (!gate_->paused()) return;  // released meanwhile (Stop)
        paused_ = true;
        emit paused(hit);
      },
      queued);
  connect(worker, &EngineWorker::seriesReady, this, &EngineController::seriesReady, queued);
  connect(worker, &EngineWorker::channelsReady, this, &EngineController::channelsReady, queued);
  connect(worker, &EngineWorker::runPolled, this, &EngineController::runPolled, queued);
  connect(worker, &EngineWorker::comparisonRead, this, &EngineController::comparisonRead, queued);
  connect(worker, &EngineWorker::keptStepsRead, this, &EngineController::keptStepsRead, queued);
  connect(worker, &EngineWorker::findingsChanged, this, &EngineController::findingsChanged, queued);
  connect(worker, &EngineWorker::sessionReset, this, &EngineController::sessionReset, queued);
  connect(worker, &EngineWorker::openFailed, this, &EngineController::openFailed, queued);
  connect(worker, &EngineWorker::failed, this, &EngineController::failed, queued);
  thread_.setObjectName("replicascope engine");
  thread_.start();
}

EngineController::~EngineController() {
  post([w = worker_] { w->setStepsWanted(0); });
  gate_->release();
  thread_.quit();
  thread_.wait();
}

void EngineController::post(RequestQueue::Request request, const std::string& tag) {
  queue_->post(std::move(request), tag);
}

void EngineController::open(const SessionSetup& setup) {
  stop();
  post([w = worker_, setup] { w->open(setup); });
}

void EngineController::openRun(const QString& path) {
  stop();
  post([w = worker_, path] { w->openRun(path); });
}

void EngineController::step(int64_t count) {
  post([w = worker_, count] { w->queueSteps(count); });
}

void EngineController::run() {
  post([w = worker_] { w->setStepsWanted(std::numeric_limits<int64_t>::max()); });
}

void EngineController::pause() {
  post([w = worker_] { w->setStepsWanted(0); });
}

void EngineController::stop() {
  pause();
  if (paused_) {
    paused_ = false;
    emit resumed();
  }
  gate_->release();
}

void EngineController::reset() {
  stop();
  post([w = worker_] { w->reset(); });
}

void EngineController::requestSeries(const SeriesRequest& request) {
  post([w = worker_, request] { w->serveSeries(request); }, "series");
}

void EngineController::readComparison(const QString& path) {
  // Tagged by path: reading one run must not replace reading another still queued.
  post([w = worker_, path] { w->readComparison(path); }, "comparison " + path.toStdString());
}

void EngineController::pollRun(const QString& path) {
  post([w = worker_, path] { w->pollRun(path); }, "poll");
}

void EngineController::readKeptSteps() {
  post([w = worker_] { w->readKeptSteps(); }, "kept steps");
}

void EngineController::requestChannels(const ChannelsRequest& request) {
  post([w = worker_, request] { w->serveChannels(request); }, "channels");
}

void EngineController::setBreakpoints(const std::set<std::string>& layers) {
  breakpoints_ = layers;
  gate_->set_breakpoints(layers);  // the gate is thread-safe; a running step sees them at once
  emit breakpointsChanged();
}

void EngineController::toggleBreakpoint(const std::string& layer) {
  auto layers = breakpoints_;
  if (!layers.erase(layer)) layers.insert(layer);
  setBreakpoints(layers);
}

void EngineController::resume(engine::ResumeMode mode) {
  if (!paused_) return;
  paused_ = false;
  // The end of this batch is where stepping stops, also when it was running on (Run, Step N):
  // the stop is queued before the paused step ends, so no further step begins.
  if (mode == engine::ResumeMode::kEndOfBatch) pause();
  gate_->resume(mode);
  emit resumed();
}

}  // namespace replicascope::ui
