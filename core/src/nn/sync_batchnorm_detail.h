// Internals of SynchronizedBatchNorm shared by its translation units: the messages copies
// exchange, the reduction the master runs, and the autograd nodes of the synchronized backward.
#pragma once

#include <torch/csrc/autograd/saved_variable.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "replicascope/dist/process_group.h"
#include "replicascope/nn/batchnorm_kernels.h"
#include "replicascope/nn/stats_observer.h"
#include "replicascope/nn/sync_batchnorm.h"
#include "replicascope/sync/sync_master.h"

namespace replicascope::nn::detail {

// What a copy sends to the master at a sync point.
struct SyncMessage {
  kernels::Moments moments;
  torch::Device device{torch::kCPU};
  torch::Tensor token;  // carries the copy's LocalMomentsBackward edge; undefined without grad
};

// What the master sends back.
struct SyncResult {
  torch::Tensor mean;    // float64 [C] on the copy's device
  torch::Tensor invstd;  // float64 [C] on the copy's device
  torch::Tensor linked;  // [2, C] with history on the merge node; undefined without grad
  int64_t count = 0;     // values per channel over all copies
};

using Master = sync::SyncMaster<SyncMessage, SyncResult>;
using Pipe = sync::SlavePipe<SyncMessage, SyncResult>;

// The state of one replicated copy of a layer.
struct ReplicaSync {
  int copy_id = 0;
  std::shared_ptr<Master> master;  // every copy keeps it (the slaves to ask for the group size)
  Pipe pipe;                       // slaves only
};

// Everything the reduction needs, fixed when the master is set up.
struct ReduceConfig {
  std::string layer;  // for errors and the observer
  double eps = 1e-5;
  EpsMode eps_mode = EpsMode::kAdd;
  c10::optional<double> momentum;
  bool update_running = false;
  torch::Tensor running_mean, running_var, num_batches_tracked;  // the original module's buffers
  std::shared_ptr<StatsObserver> observer;
  bool synchronized = false;
  // Other processes to synchronize with, after this process's copies: one collective per sync
  // point in the forward (the merged moments) and one in the backward (the summed sums).
  std::shared_ptr<dist::ProcessGroup> group;
};

// Merges the copies' moments, updates the running statistics once, tells the observer, and
// wires the backward reduction: one result per message, in copy order.
std::vector<SyncResult> reduce(std::vector<SyncMessage>& messages, const ReduceConfig& config,
                               int64_t sync_point);

// SynchronizedBatchNormOptions::synchronize_copies off: each copy's own statistics (a reduction
// of its message alone), running statistics from copy 0, and the observer told about all copies
// with the statistics over all of them.
std::vector<SyncResult> reduce_per_copy(std::vector<SyncMessage>& messages,
                                        const ReduceConfig& config, int64_t sync_point);

// What the backward of one copy needs; shared by the copy's two autograd nodes.
struct BackwardState {
  torch::autograd::SavedVariable input;
  torch::Tensor mean, invstd;  // float64 [C]
  torch::Tensor weight;        // values only; undefined if !affine
  int64_t total_count = 0;
  torch::Tensor dy;  // handed from NormalizeBackward to LocalMomentsBackward
  bool has_local_node = false;
};

// Gives `input`'s gradient to a LocalMomentsBackward node and returns the token that carries
// the node's edge to the master, or an undefined tensor when no gradient is needed.
torch::Tensor attach_local_node(const torch::Tensor& input,
                                const std::shared_ptr<BackwardState>& state);

// Connects each result's `linked` tensor to one merge node whose backward sums the copies'
// backward sums (the cross-copy reduction of sum(dy) and sum(dy * x_hat)).
// With `group`, the sums are also summed over the processes.
void attach_merge_node(const std::vector<SyncMessage>& messages, std::vector<SyncResult>& results,
                       const std::shared_ptr<dist::ProcessGroup>& group, const std::string& where);

// Gives `output` its NormalizeBackward node (gradients of weight, bias and the merge node).
void attach_normalize_node(torch::Tensor& output, const SyncResult& result,
                           const torch::Tensor& weight, const torch::Tensor& bias,
                           const std::shared_ptr<BackwardState>& state);

}  // namespace replicascope::nn::detail
