#include "engine/engine_controller.h"

#include <limits>

#include "engine/engine_worker.h"

namespace replicascope::ui {

EngineController::EngineController(QObject* parent)
    : QObject(parent), shared_(std::make_shared<EngineShared>()) {
  qRegisterMetaType<SessionSpec>();
  qRegisterMetaType<StepRecordPtr>();
  qRegisterMetaType<ModelSnapshotPtr>();
  qRegisterMetaType<SeriesReplyPtr>();
  qRegisterMetaType<BreakpointHitPtr>();
  // The gate's handler runs on the paused master copy's thread: it only copies the event out.
  shared_->gate = std::make_shared<engine::BreakpointGate>([this](const nn::SyncEvent& event) {
    auto hit = std::make_shared<BreakpointHit>();
    hit->step = shared_->current_step.load();
    hit->stats = engine::to_layer_stats(event);
    QMetaObject::invokeMethod(
        this, [this, hit] { emit paused(hit); }, Qt::QueuedConnection);
  });
  auto* worker = new EngineWorker(shared_);
  worker->moveToThread(&thread_);
  worker_ = worker;
  connect(&thread_, &QThread::finished, worker, &QObject::deleteLater);
  connect(worker, &EngineWorker::opened, this, &EngineController::opened);
  connect(worker, &EngineWorker::stepped, this, &EngineController::stepped);
  connect(worker, &EngineWorker::runningChanged, this, [this](bool running) {
    running_ = running;
    emit runningChanged(running);
  });
  connect(worker, &EngineWorker::seriesReady, this, &EngineController::seriesReady);
  connect(worker, &EngineWorker::sessionReset, this, &EngineController::sessionReset);
  connect(worker, &EngineWorker::failed, this, &EngineController::failed);
  thread_.setObjectName("replicascope engine");
  thread_.start();
}

EngineController::~EngineController() {
  shared_->steps_wanted.store(0);
  shared_->gate->release();
  thread_.quit();
  thread_.wait();
}

void EngineController::open(const SessionSpec& spec) {
  stop();
  QMetaObject::invokeMethod(
      worker_, [w = worker_, spec] { w->open(spec); }, Qt::QueuedConnection);
}

void EngineController::openRun(const QString& path) {
  stop();
  QMetaObject::invokeMethod(
      worker_, [w = worker_, path] { w->openRun(path); }, Qt::QueuedConnection);
}

void EngineController::step(int64_t count) {
  shared_->steps_wanted.store(count);
  QMetaObject::invokeMethod(worker_, &EngineWorker::startSteps, Qt::QueuedConnection);
}

void EngineController::run() {
  step(std::numeric_limits<int64_t>::max());
}

void EngineController::pause() {
  shared_->steps_wanted.store(0);
}

void EngineController::stop() {
  shared_->steps_wanted.store(0);
  if (shared_->gate->paused()) emit resumed();
  shared_->gate->release();
}

void EngineController::reset() {
  stop();
  QMetaObject::invokeMethod(worker_, &EngineWorker::reset, Qt::QueuedConnection);
}

void EngineController::requestSeries(const SeriesRequest& request) {
  bool was_pending = false;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    was_pending = shared_->pending_series.has_value();
    shared_->pending_series = request;
  }
  if (!was_pending) {
    QMetaObject::invokeMethod(worker_, &EngineWorker::serveSeries, Qt::QueuedConnection);
  }
}

void EngineController::setBreakpoints(const std::set<std::string>& layers) {
  shared_->gate->set_breakpoints(layers);
  emit breakpointsChanged();
}

void EngineController::toggleBreakpoint(const std::string& layer) {
  shared_->gate->toggle_breakpoint(layer);
  emit breakpointsChanged();
}

std::set<std::string> EngineController::breakpoints() const {
  return shared_->gate->breakpoints();
}

void EngineController::resume(engine::ResumeMode mode) {
  if (!shared_->gate->paused()) return;
  shared_->gate->resume(mode);
  emit resumed();
}

bool EngineController::isPaused() const {
  return shared_->gate->paused();
}

}  // namespace replicascope::ui
