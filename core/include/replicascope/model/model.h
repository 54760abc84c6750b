// SPDX-License-Identifier: MIT
// One model abstraction for C++ frontend modules and TorchScript modules: what the engine, the
// GUI and the run store see. A Model runs on one device as itself, and replicates into copies
// that run data-parallel with synchronized batch norm.
#pragma once

#include <torch/types.h>

#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "replicascope/base/records.h"
#include "replicascope/model/model_output.h"
#include "replicascope/nn/stats_observer.h"
#include "replicascope/parallel/data_parallel.h"
#include "replicascope/parallel/replicate.h"

namespace replicascope {
namespace dist {
class ProcessGroup;
}  // namespace dist

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// The copies of a model on a fixed set of devices, with the replication callbacks already run.
// The copies follow the model: refresh() before each forward gives them its current parameters
// and buffers and links their parameters to its own, so backward() reaches the model.
class ModelReplicas {
 public:
  virtual ~ModelReplicas() = default;
  virtual const std::vector<torch::Device>& devices() const = 0;
  size_t size() const { return devices().size(); }
  // One context per module index (the replica-to-context wiring), from the latest replication.
  virtual const ContextList& contexts() const = 0;
  // The module list of each copy, in module order (what the callbacks ran on).
  virtual const std::vector<ReplicaModuleList>& copy_modules() const = 0;
  virtual void refresh() = 0;
  // Forward of one copy; call end_step(copy, error) after it, on the copy's thread.
  virtual torch::Tensor forward(size_t copy, const torch::Tensor& input) = 0;
  virtual void end_step(size_t copy, std::exception_ptr error) = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  // "torchscript" or "frontend".
  virtual std::string kind() const = 0;
  // Where it came from: a file path, or a built-in model's name.
  virtual std::string source() const = 0;
  virtual std::vector<ModelModule> modules() const = 0;
  // Qualified names ("layer1.0.bn1.weight"), in module order.
  virtual NamedTensors named_parameters() const = 0;
  virtual NamedTensors named_buffers() const = 0;
  virtual void train(bool on) = 0;
  virtual bool is_training() const = 0;
  // The model on one device, as itself (synchronized layers use their own batch).
  virtual torch::Tensor forward(const torch::Tensor& input) = 0;
  // What the last forward() returned and which of its tensors it gave (a tensor: the result).
  virtual OutputChoice output_choice() const { return {}; }
  // Copies on `devices`; the model must outlive them.
  virtual std::unique_ptr<ModelReplicas> replicate(const std::vector<torch::Device>& devices) = 0;
  // The observer of every synchronized layer (null clears it); replicas made or refreshed after
  // this call report to it.
  virtual void set_stats_observer(std::shared_ptr<nn::StatsObserver> observer) = 0;
  // Other processes whose copies every synchronized layer also synchronizes with (null: none);
  // set it before replicate().
  virtual void set_process_group(std::shared_ptr<dist::ProcessGroup> group) = 0;
};

// Copies every parameter and buffer of `from` into `to` by name, in place (so optimizers and
// replicas keep their tensors). Throws std::invalid_argument, before changing anything, if the
// names or shapes differ.
void copy_state(const Model& from, Model& to);

// One data-parallel forward: scatter `input` over the replicas' devices (copies without samples
// run on an empty batch), refresh the copies, run each on its own thread, gather on the output
// device (default: the first device). Throws CopiesFailed if any copy failed.
torch::Tensor data_parallel_forward(ModelReplicas& replicas, const torch::Tensor& input,
                                    const std::vector<int64_t>& chunk_sizes = {},
                                    std::optional<torch::Device> output_device = std::nullopt);

}  // namespace replicascope
