// --dist, --backend and --timeout, for the commands that can run as one of several processes.
#pragma once

#include <memory>
#include <vector>

#include <torch/types.h>

#include "cli/arguments.h"

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

// With --dist: joins the group that torchrun's variables describe (a DistError names a variable
// that is missing or malformed), with the backend for `devices`, and bounds in-process
// rendezvous by the same timeout, so that a rank that stops calling fails the others in time.
// Null without --dist.
std::shared_ptr<dist::ProcessGroup> join_if_dist(const Arguments& args,
                                                 const std::vector<torch::Device>& devices);

}  // namespace replicascope::cli
