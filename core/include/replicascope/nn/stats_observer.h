// SPDX-License-Identifier: MIT
// StatsObserver: sees every synchronized layer's statistics, per sync point and copy.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace replicascope::sync {
class SyncError;
}  // namespace replicascope::sync

namespace replicascope::nn {

// What one copy brought to a sync point. Tensors are float64 [C] on the CPU.
struct CopyStats {
  int copy_id = 0;
  torch::Device device{torch::kCPU};
  int64_t count = 0;   // values per channel
  torch::Tensor mean;  // local batch mean
  torch::Tensor var;   // local biased batch variance (0 where count < 1)
};

// One sync point of one layer: every copy's local statistics and the synchronized ones, taken
// on the master's thread after the reduction and before any copy continues.
struct SyncEvent {
  std::string layer;          // the layer's qualified name
  int64_t sync_point = 0;     // the layer's call index within the step (0 for the first call)
  bool synchronized = false;  // false for a single, unreplicated module
  std::vector<CopyStats> copies;
  int64_t count = 0;           // values per channel over all copies
  torch::Tensor mean;          // synchronized mean
  torch::Tensor var;           // synchronized biased variance (what the layer normalizes with)
  torch::Tensor running_mean;  // after this step's update; undefined without running stats
  torch::Tensor running_var;
  c10::optional<double> momentum;  // the layer's (unset: a cumulative mean)
  double eps = 1e-5;
  // With a process group: every rank's statistics over its own copies (copy_id = the rank),
  // from the same all-gather that synchronizes them; empty otherwise.
  std::vector<CopyStats> ranks;
};

// Set one on a module tree with set_stats_observer(). It is called on the master copy's thread
// while the other copies wait, so it must be quick (or deliberately pause them, as a
// breakpoint does). Nothing is computed for it when no observer is set.
class StatsObserver {
 public:
  virtual ~StatsObserver() = default;
  virtual void on_sync(const SyncEvent& event) = 0;
  // A sync point of a layer failed (copies that did not meet there: one called the layer more
  // often, one left the step early, one never came), told on the thread of each copy that saw it
  // before the error goes on; a TorchScript model's interpreter turns the error into another
  // type on its way out, so this is where its layer, call and copy are known.
  virtual void on_sync_failure(const sync::SyncError& /*error*/) {}
};

}  // namespace replicascope::nn
