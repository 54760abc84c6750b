// SPDX-License-Identifier: MIT
// Internals of SynchronizedBatchNorm shared by its translation units: the messages copies
// exchange, the reductions the masters run, and the autograd node of the synchronized backward.
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
};

// What the master sends back.
struct SyncResult {
  torch::Tensor mean;    // float64 [C] on the copy's device
  torch::Tensor invstd;  // float64 [C] on the copy's device
  int64_t count = 0;     // values per channel over all copies
  // How the backward sums of this result's copy become the whole batch's: over the copies
  // (false: per-copy statistics, the copy's own sums), then over `backward_group`'s processes.
  bool across_copies = true;
  std::shared_ptr<dist::ProcessGroup> backward_group;
};

// What a copy sends at a sync point of the backward: its sum(dy) and sum(dy * x_hat), float64
// [2, C]. The master answers with the sums over all copies (and processes).
struct BackwardMessage {
  torch::Tensor sums;
  torch::Device device{torch::kCPU};
};

using Master = sync::SyncMaster<SyncMessage, SyncResult>;
using Pipe = sync::SlavePipe<SyncMessage, SyncResult>;
using BackwardMaster = sync::SyncMaster<BackwardMessage, torch::Tensor>;
using BackwardPipe = sync::SlavePipe<BackwardMessage, torch::Tensor>;

// The state of one replicated copy of a layer: a rendezvous for the forward and one for the
// backward, whose step is the copy's whole backward (parallel_backward.h).
struct ReplicaSync {
  int copy_id = 0;
  std::shared_ptr<Master> master;  // every copy keeps it (the slaves to ask for the group size)
  Pipe pipe;                       // slaves only
  std::shared_ptr<BackwardMaster> backward_master;
  BackwardPipe backward_pipe;  // slaves only
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

// Merges the copies' moments, updates the running statistics once and tells the observer: one
// result per message, in copy order.
std::vector<SyncResult> reduce(std::vector<SyncMessage>& messages, const ReduceConfig& config,
                               int64_t sync_point);

// SynchronizedBatchNormOptions::synchronize_copies off: each copy's own statistics (a reduction
// of its message alone), running statistics from copy 0, and the observer told about all copies
// with the statistics over all of them.
std::vector<SyncResult> reduce_per_copy(std::vector<SyncMessage>& messages,
                                        const ReduceConfig& config, int64_t sync_point);

// The backward master's reduction: the copies' sums added in copy order, then summed over
// `group`'s processes when there is one; one result per message, on its copy's device.
std::vector<torch::Tensor> reduce_backward(std::vector<BackwardMessage>& messages,
                                           const std::shared_ptr<dist::ProcessGroup>& group,
                                           const std::string& layer);

// What the backward of one copy's call needs.
struct BackwardState {
  torch::autograd::SavedVariable input;
  torch::Tensor mean, invstd;  // float64 [C]
  torch::Tensor weight;        // values only; undefined if !affine
  int64_t total_count = 0;
  std::shared_ptr<ReplicaSync> sync;  // null: unreplicated
  bool across_copies = true;
  std::shared_ptr<dist::ProcessGroup> group;
  std::string layer;  // for errors
};

// Gives `output` the node whose backward reduces the copies' sums and computes the gradients
// of input, weight and bias; nothing when none of them needs one.
void attach_backward_node(torch::Tensor& output, const torch::Tensor& input,
                          const torch::Tensor& weight, const torch::Tensor& bias,
                          const std::shared_ptr<BackwardState>& state);

}  // namespace replicascope::nn::detail
