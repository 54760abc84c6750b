#include "cli/dist_options.h"

#include <algorithm>
#include <chrono>

#include "replicascope/dist/process_group.h"
#include "replicascope/sync/sync_error.h"

namespace replicascope::cli {

std::shared_ptr<dist::ProcessGroup> join_if_dist(const Arguments& args,
                                                 const std::vector<torch::Device>& devices) {
  if (!args.has("dist")) {
    for (const char* option : {"timeout", "backend"}) {
      if (args.has(option))
        throw UsageError(std::string("--") + option + " applies only with --dist");
    }
    return nullptr;
  }
  const bool on_gpus = std::all_of(devices.begin(), devices.end(),
                                   [](const torch::Device& d) { return d.is_cuda(); });
  const auto name =
      args.get("backend", on_gpus && dist::ProcessGroup::has_nccl() ? "nccl" : "gloo");
  if (name != "gloo" && name != "nccl") {
    throw UsageError("--backend expects gloo or nccl, got '" + name + "'");
  }
  const auto env = dist::Environment::from_environment();
  const double seconds = args.get_double("timeout", 300.0);
  if (!(seconds > 0)) throw UsageError("--timeout expects a positive number of seconds");
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(1000 * seconds));
  auto group = dist::ProcessGroup::join(
      env, timeout, name == "nccl" ? dist::Backend::kNccl : dist::Backend::kGloo);
  sync::set_default_timeout(timeout);
  return group;
}

}  // namespace replicascope::cli
