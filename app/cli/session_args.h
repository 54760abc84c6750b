// SPDX-License-Identifier: GPL-3.0-or-later
// The session spec's flags on the CLI (--model, --data, ..., --dist, --backend, --timeout, --run):
// read from a command's Arguments with core's one parser (engine/session_spec.h).
#pragma once

#include <memory>
#include <set>
#include <string>

#include "cli/arguments.h"
#include "replicascope/engine/session_spec.h"

namespace replicascope::dist {
class ProcessGroup;
}  // namespace replicascope::dist

// The options' help, for a command's usage text.
#define REPLICASCOPE_DIST_USAGE                                                                \
  "  --dist              one of several processes (torchrun's RANK, WORLD_SIZE, LOCAL_RANK,\n" \
  "                      MASTER_ADDR, MASTER_PORT; `replicascope-cli launch` sets them)\n"     \
  "  --backend NAME      with --dist: gloo, or nccl where LibTorch has CUDA (default: nccl\n"  \
  "                      when every copy is on a GPU and this build has it, else gloo)\n"      \
  "  --timeout S         with --dist: joining and every collective fail after S seconds\n"     \
  "                      (default 300)\n"

namespace replicascope::cli {

// Adds the names of the session spec's flags that `only` lists (all of them when empty) to a
// command's options (they take a value) and switches.
void add_session_flags(std::set<std::string>& options, std::set<std::string>& switches,
                       const std::set<std::string>& only = {});

// The spec the session flags in `args` describe, starting from `spec`; checked
// (engine::check_session_spec). Throws UsageError.
engine::SessionSpec session_spec(const Arguments& args, engine::SessionSpec spec = {});

// With --dist: joins the group that torchrun's variables describe (engine::join_group). Null
// without --dist; --backend or --timeout without --dist are usage errors.
std::shared_ptr<dist::ProcessGroup> join_if_dist(const Arguments& args, const std::string& devices);

}  // namespace replicascope::cli
