// The one place a session is built from its description (session_factory.h).
#include "replicascope/engine/session_factory.h"

#include <algorithm>
#include <chrono>

#include "replicascope/devices.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/sync/sync_error.h"

namespace replicascope::engine {

std::shared_ptr<dist::ProcessGroup> join_group(const SessionSpec& spec) {
  const auto devices = parse_devices(spec.devices);
  const bool on_gpus = std::all_of(devices.begin(), devices.end(),
                                   [](const torch::Device& d) { return d.is_cuda(); });
  const auto backend = !spec.backend.empty()                       ? spec.backend
                       : on_gpus && dist::ProcessGroup::has_nccl() ? "nccl"
                                                                   : "gloo";
  const auto timeout =
      std::chrono::milliseconds(static_cast<int64_t>(1000 * spec.timeout_seconds.value_or(300)));
  auto group =
      dist::ProcessGroup::join(dist::Environment::from_environment(), timeout,
                               backend == "nccl" ? dist::Backend::kNccl : dist::Backend::kGloo);
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

BuiltSession make_session(const SessionSpec& spec, bool keep_statistics) {
  BuiltSession built;
  auto options = session_options(spec);
  if (spec.dist) built.group = options.group = join_group(spec);
  built.data_spec = spec.data_or_default();
  std::shared_ptr<const data::Dataset> dataset = load_data(built.data_spec, spec.image, spec.seed);
  auto factory = spec.model.empty() ? demo_model(dataset->classes()) : scripted_model(spec.model);
  const bool record = !spec.run.empty() && built.rank0();
  options.record_statistics = record || keep_statistics;
  built.session = std::make_unique<Session>(factory, dataset, options);
  // Every rank takes part in gathering the wiring; rank 0 records it.
  built.modules = built.session->model().modules();
  built.wiring = wiring_of(built.session->replicas(), built.modules);
  if (built.group) built.wiring = gather_wiring(built.wiring, *built.group);
  built.metadata = run_metadata(options, spec.model, built.data_spec);
  if (record) start_run(built, spec.run);
  return built;
}

void start_run(BuiltSession& built, const std::string& path) {
  built.metadata["created"] = utc_timestamp();
  built.run.reset();  // the old file keeps the steps it recorded
  built.run = std::make_unique<store::RunWriter>(path, built.metadata,
                                                 store::RunModel{built.modules, built.wiring});
}

}  // namespace replicascope::engine
