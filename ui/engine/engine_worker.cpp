#include "engine/engine_worker.h"

#include <QDateTime>
#include <QDir>

#include <QFileInfo>
#include <algorithm>

#include "replicascope/data/demo_data.h"
#include "replicascope/devices.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/store/run_store.h"
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

QString describe_current_exception() {
  return QString::fromStdString(sync::describe(std::current_exception()));
}

}  // namespace

EngineWorker::EngineWorker(std::shared_ptr<EngineShared> shared) : shared_(std::move(shared)) {}

EngineWorker::~EngineWorker() {
  close();
}

void EngineWorker::close() {
  shared_->steps_wanted.store(0);
  writer_.reset();
  session_.reset();
  run_path_.clear();
}

void EngineWorker::open(const SessionSpec& spec) {
  try {
    close();
    engine::SessionOptions options;
    options.devices = parse_devices(spec.devices.toStdString());
    options.batch_size = spec.batch_size;
    options.synchronized = spec.synchronized;
    options.seed = spec.seed;
    options.learning_rate = spec.learning_rate;
    auto [dataset, data_spec] = data::demo_data(spec.synthetic, spec.seed);
    const auto model_path = spec.model_path.toStdString();
    auto factory = model_path.empty() ? engine::demo_model(dataset->classes())
                                      : engine::scripted_model(model_path);
    auto session = std::make_unique<engine::Session>(factory, dataset, options);
    session->set_sync_listener(shared_->gate);
    const auto modules = session->model().modules();
    auto wiring = engine::wiring_of(session->replicas(), modules);
    auto metadata = engine::run_metadata(options, model_path, data_spec);
    metadata["wiring"] = engine::wiring_to_text(wiring);
    const auto run_path = new_run_path(spec.runs_dir);
    writer_ = std::make_unique<store::RunWriter>(run_path.toStdString(), metadata);
    session_ = std::move(session);
    run_path_ = run_path;

    auto snapshot = std::make_shared<ModelSnapshot>();
    snapshot->source = model_path.empty() ? QString("demo") : spec.model_path;
    snapshot->kind = QString::fromStdString(session_->model().kind());
    snapshot->run_path = run_path_;
    for (const auto& device : options.devices) {
      snapshot->devices << QString::fromStdString(device.str());
    }
    snapshot->modules = modules;
    snapshot->wiring = std::move(wiring);
    emit opened(snapshot);
  } catch (...) {
    close();
    emit failed(describe_current_exception());
  }
}

namespace {

// A recorded run's module tree: the model's, from the wiring it kept (module order, names and
// types; parameter counts unknown), else its recorded layers under one root.
std::vector<ModelModule> recorded_modules(const ModelSnapshot& run, bool synchronized) {
  std::vector<ModelModule> modules;
  auto add = [&](const std::string& name, const std::string& type, int depth) {
    ModelModule m;
    m.name = name;
    m.type = m.full_type = type;
    m.depth = depth;
    m.own_parameter_count = m.subtree_parameter_count = -1;
    m.synchronized = synchronized && run.recorded_divergence.count(name) > 0;
    modules.push_back(m);
  };
  if (run.wiring.rows.empty()) {
    add("", "run", 0);
    for (const auto& [layer, divergence] : run.recorded_divergence) add(layer, "recorded layer", 1);
    return modules;
  }
  for (const auto& row : run.wiring.rows) {
    const auto dots = std::count(row.module.begin(), row.module.end(), '.');
    add(row.module, row.type, row.module.empty() ? 0 : 1 + static_cast<int>(dots));
    modules.back().receives_callbacks = row.expects_callbacks;
  }
  return modules;
}

}  // namespace

void EngineWorker::openRun(const QString& path) {
  try {
    close();
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
    for (const auto& layer : run.layers())
      snapshot->recorded_divergence[layer] = run.divergence(layer);
    snapshot->recorded_steps = run.steps();
    // Runs recorded before the wiring was kept have none; a malformed one is an error.
    if (metadata.count("wiring"))
      snapshot->wiring = engine::wiring_from_text(metadata.at("wiring"));
    snapshot->modules = recorded_modules(*snapshot, value("synchronized") == "true");
    run_path_ = path;
    emit opened(snapshot);
  } catch (...) {
    close();
    emit failed(describe_current_exception());
  }
}

void EngineWorker::startSteps() {
  if (!session_) {
    shared_->steps_wanted.store(0);
    emit failed(run_path_.isEmpty() ? "nothing to train: open a model first"
                                    : "a recorded run cannot be trained; open its model");
    return;
  }
  if (stepping_) return;  // the running chain picks up the new count
  stepping_ = true;
  shared_->gate->arm();
  emit runningChanged(true);
  stepOnce();
}

void EngineWorker::stepOnce() {
  if (!session_ || shared_->steps_wanted.load() <= 0) {
    stepping_ = false;
    emit runningChanged(false);
    return;
  }
  shared_->steps_wanted.fetch_sub(1);
  try {
    shared_->current_step.store(session_->steps_done() + 1);
    shared_->gate->begin_step();
    auto record = std::make_shared<engine::StepRecord>(session_->step());
    writer_->append(*record);
    emit stepped(record);
  } catch (...) {
    shared_->steps_wanted.store(0);
    emit failed("step " + QString::number(shared_->current_step.load()) +
                " failed: " + describe_current_exception());
  }
  // The next step is queued behind whatever arrived meanwhile (a series request, a reset).
  QMetaObject::invokeMethod(this, &EngineWorker::stepOnce, Qt::QueuedConnection);
}

void EngineWorker::reset() {
  if (!session_) return;
  shared_->steps_wanted.store(0);
  try {
    session_->reset();
    // A fresh run file: the old one keeps the steps it recorded.
    const auto dir = QFileInfo(run_path_).absolutePath();
    const auto path = new_run_path(dir);
    const auto metadata = store::RunReader(run_path_.toStdString()).metadata();
    writer_ = std::make_unique<store::RunWriter>(path.toStdString(), metadata);
    run_path_ = path;
    emit sessionReset(run_path_);
  } catch (...) {
    emit failed("reset failed: " + describe_current_exception());
  }
}

void EngineWorker::serveSeries() {
  std::optional<SeriesRequest> request;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    request.swap(shared_->pending_series);
  }
  if (!request) return;
  auto reply = std::make_shared<SeriesReply>();
  reply->generation = request->generation;
  const auto read = [&](const QString& path) -> std::vector<store::Series> {
    const store::RunReader run(path.toStdString());
    const auto layers = run.layers();
    if (std::find(layers.begin(), layers.end(), request->layer) == layers.end()) return {};
    return store::statistic_series(run, request->layer, request->statistic, request->first_channel,
                                   request->last_channel);
  };
  try {
    if (!run_path_.isEmpty()) reply->series = read(run_path_);
    if (!request->overlay_path.isEmpty()) reply->overlay = read(request->overlay_path);
  } catch (...) {
    reply->error = describe_current_exception();
  }
  emit seriesReady(reply);
}

}  // namespace replicascope::ui
