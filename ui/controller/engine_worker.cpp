// SPDX-License-Identifier: GPL-3.0-or-later
#include "controller/engine_worker.h"

#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>

#include <QFileInfo>
#include <algorithm>

#include "controller/run_findings.h"
#include "plot/statistics_plot.h"
#include "replicascope/base/describe_error.h"
#include "replicascope/engine/input_check.h"
#include "replicascope/store/run_reader.h"
#include "replicascope/sync/sync_error.h"

namespace replicascope::ui {
namespace {

QString new_run_path(const QString& dir) {
  if (!QDir().mkpath(dir)) {
    throw std::runtime_error("cannot create the runs folder '" + dir.toStdString() + "'");
  }
  const auto stamp = QDateTime::currentDateTimeUtc().toString("yyyyMMdd-HHmmss-zzz");
  return QDir(dir).filePath("run-" + stamp + ".sqlite");
}

// The requested layer's channels at the requested step of `run`, as a live step has them; null
// when that step kept no detail.
StepRecordPtr channels_at(const store::RunReader& run, const ChannelsRequest& request) {
  auto layer = store::layer_at_step(run, request.layer, request.sync_point, request.step);
  if (!layer) return nullptr;
  auto record = std::make_shared<replicascope::StepRecord>();
  record->step = request.step;
  record->layers.push_back(std::move(*layer));
  return record;
}

QString describe_current_exception() {
  return QString::fromStdString(describe(std::current_exception()));
}

}  // namespace

EngineWorker::EngineWorker() {
  // The handler runs on the paused master copy's thread inside the step: it only copies the
  // event out. Signals may be emitted from any thread; the connection to the UI is queued.
  gate_ = std::make_shared<engine::BreakpointGate>([this](const nn::SyncEvent& event) {
    auto hit = std::make_shared<BreakpointHit>();
    hit->step = current_step_.load();
    hit->stats = engine::to_layer_stats(event);
    emit paused(hit);
  });
}

EngineWorker::~EngineWorker() {
  close();
}

void EngineWorker::close() {
  steps_wanted_ = 0;
  built_ = {};
  reader_.reset();
  run_path_.clear();
  diagnosis_due_ = false;
  since_diagnosis_.invalidate();
}

void EngineWorker::open(const SessionSetup& setup) {
  try {
    auto spec = setup.spec;
    spec.run.clear();
    const auto run_path = new_run_path(setup.runs_dir);
    // The run file is made at the first step (start_run): a session opened and left untrained
    // leaves no empty run behind.
    auto built = engine::make_session(spec, /*keep_statistics=*/true);
    stop_on_nonfinite_ = spec.stop_on_nonfinite;
    built.session->set_sync_listener(gate_);
    close();
    built_ = std::move(built);
    run_path_ = run_path;

    auto snapshot = std::make_shared<ModelSnapshot>();
    snapshot->source = spec.model.empty() ? QString("demo") : QString::fromStdString(spec.model);
    snapshot->kind = QString::fromStdString(built_.session->model().kind());
    snapshot->run_path = run_path_;
    for (const auto& device : built_.session->options().devices) {
      snapshot->devices << QString::fromStdString(device.str());
    }
    snapshot->batch = spec.batch;
    snapshot->synchronized = spec.synchronized;
    snapshot->notice = QString::fromStdString(built_.output.notice());
    snapshot->modules = built_.modules;
    snapshot->wiring = built_.wiring;
    emit opened(snapshot);
  } catch (const engine::ModelDataMismatch& e) {
    auto proposed = setup.spec;
    engine::apply_proposal(proposed, e.proposal());
    // Only a proposal that changes something is one (a forward that fails for reasons the
    // model's layers do not tell has none).
    const auto flags = session_flags_of(proposed);
    fail_open(describe_current_exception(),
              flags != session_flags_of(setup.spec) ? flags : QStringList());
  } catch (...) {
    fail_open(describe_current_exception());
  }
}

void EngineWorker::fail_open(const QString& what, const QStringList& proposed) {
  emit openFailed(what, proposed);  // before failed: the window forgets the file before the dialog
  emit failed(what);
}

void EngineWorker::openRun(const QString& path) {
  try {
    const store::RunReader run(path.toStdString());
    auto snapshot = std::make_shared<ModelSnapshot>();
    const auto metadata = run.metadata();
    const auto value = [&](const char* key) {
      const auto it = metadata.find(key);
      return it == metadata.end() ? QString() : QString::fromStdString(it->second);
    };
    snapshot->source = value("model");
    snapshot->kind = "run";
    snapshot->run_path = path;
    snapshot->live = false;
    snapshot->devices = value("devices").split(',', Qt::SkipEmptyParts);
    snapshot->batch = value("batch").toLongLong();  // 0 when missing or malformed
    snapshot->synchronized = store::trained_synchronized(metadata);
    snapshot->recorded.divergence = run.divergence_by_layer(/*each_call=*/true);
    snapshot->recorded.steps = run.steps();
    auto model = run.model();  // a malformed one is an error
    snapshot->modules = std::move(model.modules);
    snapshot->wiring = std::move(model.wiring);
    close();  // only now: a run that cannot be opened leaves what was open
    run_path_ = path;
    polled_steps_ = snapshot->recorded.steps.size();
    emit opened(snapshot);
    // Next, not now: the run shows at once, its findings when read (requests asked meanwhile,
    // such as the plotted series, go first).
    queue_->post([this, path] { diagnoseRun(path); }, "diagnose");
  } catch (...) {
    fail_open(describe_current_exception());
  }
}

void EngineWorker::setStepsWanted(int64_t count) {
  steps_wanted_ = count;
  if (count <= 0 || stepping_) return;  // a running chain stops, or picks up the new count
  if (!built_.session) {
    steps_wanted_ = 0;
    emit failed(run_path_.isEmpty() ? "nothing to train: open a model first"
                                    : "a recorded run cannot be trained; open its model");
    return;
  }
  stepping_ = true;
  gate_->arm();
  emit runningChanged(true);
  stepOnce();
}

void EngineWorker::queueSteps(int64_t count) {
  if (count <= 0 || steps_wanted_ > kMaxQueuedSteps) return;  // running on: Pause stops it
  // Never fewer than were waiting: the bound only keeps more from piling up.
  setStepsWanted(std::min(steps_wanted_ + count, std::max(count, kMaxQueuedSteps)));
}

void EngineWorker::stepOnce() {
  if (!built_.session || steps_wanted_ <= 0) {
    stepping_ = false;
    emit runningChanged(false);
    return;
  }
  --steps_wanted_;
  try {
    current_step_.store(built_.session->steps_done() + 1);
    // A model without BatchNorm trains with nothing to record: no run file is made for it.
    if (!built_.run && replicascope::has_batch_norm(built_.modules))
      engine::start_run(built_, run_path_.toStdString());
    gate_->begin_step();
    auto record = std::make_shared<replicascope::StepRecord>(built_.session->step());
    if (built_.run) built_.run->append(*record);
    emit stepped(record);
    emit findingsChanged(live_findings(built_.session->diagnosis(), record->step));
    if (stop_on_nonfinite_ && !replicascope::nonfinite_part(*record).empty()) {
      steps_wanted_ = 0;  // recorded and shown (StatusPanel); the user decides what next
    }
  } catch (...) {
    steps_wanted_ = 0;
    const auto why = describe_current_exception();
    engine::record_failed_step(built_);  // a sync point's failure: a finding, kept in the run
    emit findingsChanged(live_findings(built_.session->diagnosis(), built_.session->steps_done()));
    emit failed("step " + QString::number(current_step_.load()) + " failed: " + why);
  }
  // The next step queues behind whatever was asked meanwhile (a pause, a series, a reset).
  queue_->post([this] { stepOnce(); }, "step");
}

void EngineWorker::reset() {
  if (!built_.session) return;
  steps_wanted_ = 0;
  try {
    built_.session->reset();
    // A fresh run file at the next first step: the old one keeps the steps it recorded.
    built_.run.reset();
    run_path_ = new_run_path(QFileInfo(run_path_).absolutePath());
    reader_.reset();
    emit sessionReset(run_path_);
  } catch (...) {
    emit failed("reset failed: " + describe_current_exception());
  }
}

std::vector<store::Series> EngineWorker::series_of(const QString& path,
                                                   const SeriesRequest& request,
                                                   bool* synchronized) {
  // The session's own run keeps one read connection; another run is read once per request.
  std::unique_ptr<store::RunReader> other;
  if (path == run_path_ && !reader_)
    reader_ = std::make_unique<store::RunReader>(path.toStdString());
  if (path != run_path_) other = std::make_unique<store::RunReader>(path.toStdString());
  const auto& run = path == run_path_ ? *reader_ : *other;
  if (synchronized) *synchronized = store::trained_synchronized(run.metadata());
  // A live run has no rows for a layer before its first step: then there are no series yet.
  return store::statistic_series(run, request.selection);
}

void EngineWorker::serveSeries(const SeriesRequest& request) {
  auto reply = std::make_shared<SeriesReply>();
  reply->generation = request.generation;
  try {
    // A live session has no run file before its first step, and so no series yet.
    const bool unrecorded = built_.session && !built_.run;
    if (!run_path_.isEmpty() && !unrecorded) reply->series = series_of(run_path_, request);
    for (const auto& path : request.overlay_paths) {
      // A compared run that cannot be read leaves the others drawn (its comparisonRead says
      // why, and the context stops comparing with it).
      try {
        OverlaySeries overlay;
        overlay.path = path;
        overlay.series = series_of(path, request, &overlay.synchronized);
        reply->overlays.push_back(std::move(overlay));
      } catch (...) {
      }
    }
  } catch (...) {
    reply->error = describe_current_exception();
  }
  emit seriesReady(reply);
}

void EngineWorker::pollRun(const QString& path) {
  if (built_.session || path != run_path_) return;  // another session is open now
  auto poll = std::make_shared<RunPoll>();
  poll->run_path = path;
  QElapsedTimer timer;
  timer.start();
  try {
    // A connection of its own: the kept one's cached answers would not see the new rows.
    const store::RunReader run(path.toStdString());
    auto steps = run.steps();
    if (steps.size() != polled_steps_) {
      poll->grew = true;
      poll->recorded.divergence = run.divergence_by_layer(/*each_call=*/true);
      poll->recorded.steps = std::move(steps);
      polled_steps_ = poll->recorded.steps.size();
      reader_.reset();  // the series are read afresh too
      diagnosis_due_ = true;
    }
  } catch (...) {
    poll->error = describe_current_exception();
  }
  poll->read_ms = static_cast<double>(timer.nsecsElapsed()) / 1e6;
  emit runPolled(poll);
  // Polls come every half second while the run is open, so a check put off now comes later.
  if (diagnosis_due_ && since_diagnosis_.isValid() &&
      since_diagnosis_.elapsed() >= std::max<qint64>(1000, 5 * diagnosis_ms_))
    diagnoseRun(path);
}

void EngineWorker::diagnoseRun(const QString& path) {
  if (built_.session || path != run_path_) return;  // another session is open now
  since_diagnosis_.start();
  auto report = recorded_findings(path, static_cast<int64_t>(polled_steps_));
  diagnosis_ms_ = since_diagnosis_.elapsed();
  since_diagnosis_.start();
  diagnosis_due_ = false;
  emit findingsChanged(report);
}

void EngineWorker::readComparison(const QString& path) {
  auto read = std::make_shared<RunPoll>();
  read->run_path = path;
  try {
    const store::RunReader run(path.toStdString());
    read->recorded.steps = run.steps();
    read->recorded.divergence = run.divergence_by_layer(/*each_call=*/true);
    read->grew = true;
  } catch (...) {
    read->error = describe_current_exception();
  }
  emit comparisonRead(read);
}

void EngineWorker::readKeptSteps() {
  if (!built_.session || !built_.run) return;
  auto read = std::make_shared<KeptSteps>();
  read->run_path = run_path_;
  try {
    // A connection of its own, as pollRun's: the kept one's cached answers would not see them.
    read->steps = store::RunReader(run_path_.toStdString()).detail_steps();
  } catch (...) {
    read->error = describe_current_exception();
  }
  emit keptStepsRead(read);
}

void EngineWorker::serveChannels(const ChannelsRequest& request) {
  auto reply = std::make_shared<ChannelsReply>();
  reply->request = request;
  try {
    if (!run_path_.isEmpty()) {
      if (!reader_) reader_ = std::make_unique<store::RunReader>(run_path_.toStdString());
      reply->record = channels_at(*reader_, request);
    }
    for (const auto& path : request.compared) {
      // The compared run at the same step, when it kept that step's channels; one that cannot
      // be read draws nothing here (its comparisonRead says why).
      ComparedChannels compared{path, nullptr};
      try {
        compared.record = channels_at(store::RunReader(path.toStdString()), request);
      } catch (...) {
      }
      reply->compared.push_back(std::move(compared));
    }
  } catch (...) {
    reply->error = describe_current_exception();
  }
  emit channelsReady(reply);
}

}  // namespace replicascope::ui
