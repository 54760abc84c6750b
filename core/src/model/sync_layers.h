// SPDX-License-Identifier: MIT
// The bridge between a scripted model and SynchronizedBatchNorm. A converted BatchNorm's forward
// calls the operator replicascope::sync_batch_norm with its own tensors and the id of a
// SyncLayer (an int attribute of the instance); the operator runs that layer's synchronized
// batch norm on them. Ids are unique per instance and per copy, so the copies of one scripted
// module, which share a class type, still reach their own layers.
#pragma once

#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "replicascope/nn/sync_batchnorm.h"
#include "replicascope/torchscript/module_file.h"

namespace replicascope::script::detail {

// One converted BatchNorm instance of one copy. Registered under id() while it lives: a scripted
// module whose layers are gone fails with a clear error, not a crash.
class SyncLayer {
 public:
  SyncLayer(const BatchNormInfo& info, const std::string& name);
  ~SyncLayer();
  SyncLayer(const SyncLayer&) = delete;
  SyncLayer& operator=(const SyncLayer&) = delete;

  int64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  const BatchNormInfo& info() const { return info_; }
  // The synchronized layer, as a module (the replication origin) and by its base.
  const std::shared_ptr<torch::nn::Module>& module() const { return module_; }
  nn::SynchronizedBatchNormBase& layer() const { return *layer_; }
  // Points the layer's weight, bias and running buffers at those of `batchnorm`, the scripted
  // instance it serves. The operator does so on every call; the replication origin needs it
  // before, since its running buffers are where the copies' statistics go.
  void bind(const torch::jit::Module& batchnorm) const;

 private:
  int64_t id_;
  std::string name_;
  BatchNormInfo info_;
  std::shared_ptr<torch::nn::Module> module_;
  nn::SynchronizedBatchNormBase* layer_;
};
using SyncLayers = std::vector<std::shared_ptr<SyncLayer>>;

// Makes every BatchNorm1d/2d/3d of `root` run the synchronized batch norm, in module order.
// `root` must be a fresh clone that has never run: the forward methods of its BatchNorm class
// types are replaced, and a module that ran may hold compiled calls to the old ones.
SyncLayers convert_batchnorms(torch::jit::Module& root);

// For a clone of a converted module: new layers for its BatchNorm instances, with the options
// of `like` (the layers of the module it was cloned from, same order), ids written into the
// clone's instances.
SyncLayers attach_layers(torch::jit::Module& clone, const SyncLayers& like);

// Module::clone() deep-copies tensors with Tensor::clone(), which records autograd history: the
// clone's parameters would not be leaves, and their gradients would flow into the source's.
// This clones without history and keeps each parameter's requires_grad.
torch::jit::Module detached_clone(const torch::jit::Module& module);

// The BatchNorm instances of `root` in module order, with their names and options.
struct BatchNormModule {
  std::string name;
  torch::jit::Module module;
  BatchNormInfo info;
};
std::vector<BatchNormModule> batchnorm_modules(const torch::jit::Module& root);

}  // namespace replicascope::script::detail
