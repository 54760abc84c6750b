// SPDX-License-Identifier: MIT
// The one place a session is built from its description (session_factory.h).
#include "replicascope/engine/session_factory.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "replicascope/base/memory_limits.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/engine/batch_memory.h"
#include "replicascope/engine/input_check.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/parallel/devices.h"
#include "replicascope/store/run_writer.h"
#include "replicascope/sync/sync_error.h"

namespace replicascope::engine {

dist::Settings shared_settings(const SessionSpec& spec, int64_t steps) {
  dist::Settings out;
  out.emplace_back("--model", spec.model.empty()
                                  ? "the demo CNN"
                                  : std::filesystem::path(spec.model).filename().string() +
                                        " (content " + store::file_hash(spec.model) + ")");
  out.emplace_back("--data", spec.data_or_default());
  out.emplace_back("--devices", spec.devices);
  out.emplace_back("--batch", std::to_string(spec.batch));
  out.emplace_back("--seed", std::to_string(spec.seed));
  // The rest as the command line spells them; what may differ per rank (the run file's name,
  // the timeout) is left out.
  const auto flags = session_spec_flags(spec);
  for (size_t i = 0; i < flags.size(); ++i) {
    const bool valued = i + 1 < flags.size() && flags[i + 1].rfind("--", 0) != 0;
    const auto& name = flags[i];
    const std::string value = valued ? flags[++i] : "on";
    if (name != "--model" && name != "--data" && name != "--devices" && name != "--run" &&
        name != "--timeout" && name != "--batch" && name != "--seed")
      out.emplace_back(name, value);
  }
  out.emplace_back("records (--run)", spec.run.empty() ? "no" : "yes");
  if (steps > 0) out.emplace_back("--steps", std::to_string(steps));
  return out;
}

std::shared_ptr<dist::ProcessGroup> join_group(const SessionSpec& spec,
                                               const dist::Settings& settings) {
  const auto devices = parse_devices(spec.devices);
  const bool on_gpus = std::all_of(devices.begin(), devices.end(),
                                   [](const torch::Device& d) { return d.is_cuda(); });
  const auto backend = !spec.backend.empty()                       ? spec.backend
                       : on_gpus && dist::ProcessGroup::has_nccl() ? "nccl"
                                                                   : "gloo";
  const auto timeout =
      std::chrono::milliseconds(static_cast<int64_t>(1000 * spec.timeout_seconds.value_or(300)));
  auto group = dist::ProcessGroup::join(
      dist::Environment::from_environment(), timeout,
      backend == "nccl" ? dist::Backend::kNccl : dist::Backend::kGloo, settings);
  // In-process rendezvous wait as long, so that a rank that stops calling fails the others.
  sync::set_default_timeout(timeout);
  return group;
}

bool BuiltSession::rank0() const {
  return !group || group->rank() == 0;
}

SessionOptions session_options(const SessionSpec& spec) {
  check_session_spec(spec);
  SessionOptions options;
  options.devices = parse_devices(spec.devices);
  options.batch_size = spec.batch;
  options.optimizer = spec.optimizer;
  options.learning_rate = spec.lr();
  options.weight_decay = spec.weight_decay;
  options.loss = spec.loss;
  options.seed = spec.seed;
  options.synchronized = spec.synchronized;
  return options;
}

namespace {

// What cannot work is said now, in one sentence, not as every copy's traceback (or an
// allocator's) at the first step: a run of a model without BatchNorm (nothing to record), a
// model that cannot take the data, a batch past the memory this process can have. On a model
// of its own, not replicated, observed or in the process group: the check changes nothing of
// the session's (a BatchNorm without running statistics reduces in eval mode too). The session
// seeds its model afresh. Returns which tensor of forward()'s result the check's forward took.
OutputChoice check_before_the_first_step(const SessionSpec& spec, Model& model,
                                         const data::Dataset& dataset,
                                         const SessionOptions& options) {
  if (!spec.run.empty() && !has_batch_norm(model.modules())) {
    throw UsageError("--run: " + nothing_to_synchronize(spec.model) +
                     " and no statistics to record; leave --run out to train it anyway");
  }
  const auto forward = check_model_fits_data(model, dataset);
  const bool on_cpu = std::all_of(options.devices.begin(), options.devices.end(),
                                  [](const torch::Device& d) { return d.is_cpu(); });
  // This process's share of the batch; the check's forward ran on the CPU.
  const int64_t processes = options.group ? options.group->size() : 1;
  if (on_cpu) {
    check_batch_fits_memory(forward, (options.batch_size + processes - 1) / processes,
                            memory_this_process_can_have());
  }
  return model.output_choice();  // the check's forward of the data's samples
}

// The session's data, and the model the check before the first step runs on in `checked`.
// Synthetic data without --classes has as many classes as a scripted model has outputs (one
// forward of two samples, after the samples' memory is checked; 10 when it fails, and the check
// says why); the demo CNN takes the data's classes.
std::shared_ptr<const data::Dataset> session_data(const SessionSpec& spec,
                                                  const std::string& data_spec,
                                                  const ModelFactory& factory,
                                                  std::unique_ptr<Model>& checked) {
  int64_t classes = spec.classes;
  if (classes == 0 && data_spec == "synthetic" && !spec.model.empty()) {
    const auto shape = synthetic_shape(spec.image);
    synthetic_sample_count(shape, spec.batch);
    checked = factory(/*synchronized=*/false);
    classes = model_outputs(*checked, shape);
  }
  return load_data(data_spec, spec.image, spec.seed, spec.batch, classes);
}

}  // namespace

BuiltSession make_session(const SessionSpec& spec, bool keep_statistics, int64_t steps) {
  BuiltSession built;
  auto options = session_options(spec);
  if (spec.dist) built.group = options.group = join_group(spec, shared_settings(spec, steps));
  built.data_spec = spec.data_or_default();
  ModelFactory factory = spec.model.empty() ? nullptr : scripted_model(spec.model, spec.output);
  std::unique_ptr<Model> checked;
  std::shared_ptr<const data::Dataset> dataset =
      session_data(spec, built.data_spec, factory, checked);
  if (!factory) factory = demo_model(dataset->classes());
  if (!checked) checked = factory(/*synchronized=*/false);
  const bool record = !spec.run.empty() && built.rank0();
  options.record_statistics = record || keep_statistics;
  built.output = check_before_the_first_step(spec, *checked, *dataset, options);
  checked.reset();
  built.session = std::make_unique<Session>(factory, dataset, options);
  // Every rank takes part in gathering the wiring; rank 0 records it.
  built.modules = built.session->model().modules();
  built.wiring = wiring_of(built.session->replicas(), built.modules);
  if (built.group) built.wiring = gather_wiring(built.wiring, *built.group);
  built.metadata = run_metadata(options, spec.model, built.data_spec);
  built.metadata["model_output"] = built.output.description();
  built.detail = spec.detail;
  if (record) start_run(built, spec.run);
  return built;
}

void start_run(BuiltSession& built, const std::string& path) {
  built.metadata["created"] = utc_timestamp();
  built.run.reset();  // the old file keeps the steps it recorded
  built.run = std::make_unique<store::RunWriter>(
      path, built.metadata, store::RunModel{built.modules, built.wiring}, built.detail);
}

void record_failed_step(BuiltSession& built) {
  for (const auto& event : built.session->take_events()) {
    if (!built.run) continue;
    try {
      built.run->add_event(event);
    } catch (const store::StoreError&) {
    }
  }
}

}  // namespace replicascope::engine
