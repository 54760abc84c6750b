#include "cli/dist_options.h"

#include <chrono>

#include "replicascope/dist/process_group.h"
#include "replicascope/sync/sync_error.h"

namespace replicascope::cli {

std::shared_ptr<dist::ProcessGroup> join_if_dist(const Arguments& args) {
  if (!args.has("dist")) {
    if (args.has("timeout")) throw UsageError("--timeout applies only with --dist");
    return nullptr;
  }
  const auto env = dist::Environment::from_environment();
  const double seconds = args.get_double("timeout", 300.0);
  if (!(seconds > 0)) throw UsageError("--timeout expects a positive number of seconds");
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(1000 * seconds));
  auto group = dist::ProcessGroup::join(env, timeout);
  sync::set_default_timeout(timeout);
  return group;
}

}  // namespace replicascope::cli
