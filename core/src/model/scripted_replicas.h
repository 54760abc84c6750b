// SPDX-License-Identifier: MIT
// The copies of a ScriptedModel (internal).
#pragma once

#include <torch/script.h>

#include "replicascope/model/scripted_model.h"

namespace replicascope::script::detail {
class SyncLayer;
}

namespace replicascope::detail {

// The module's result as the model's output: the tensor options.output() picks, or with
// options.every_output() every tensor joined, choice.element still saying which one the output
// picks where it picks one (model_output.h). `batch`: the input's samples.
SelectedOutput model_output(const c10::IValue& output, const ScriptedModelOptions& options,
                            int64_t batch, const std::string& source);

// Clones the scripted module once per device and keeps the clones: cloning compiles methods
// anew, so cloning every step would re-profile the graphs every step. refresh() points each
// clone at the model's tensors instead.
class ScriptedReplicas : public ModelReplicas {
 public:
  ScriptedReplicas(ScriptedModel& model, std::vector<torch::Device> devices);
  const std::vector<torch::Device>& devices() const override { return devices_; }
  const ContextList& contexts() const override { return contexts_; }
  const std::vector<ReplicaModuleList>& copy_modules() const override { return lists_; }
  void refresh() override;
  torch::Tensor forward(size_t copy, const torch::Tensor& input) override;
  void end_step(size_t copy, std::exception_ptr error) override;

 private:
  // An attribute of a module in a copy: where refresh() puts a tensor.
  struct Slot {
    torch::jit::Module owner;
    std::string attribute;
  };
  using SyncLayers = std::vector<std::shared_ptr<script::detail::SyncLayer>>;

  // New synchronized layers for every copy, then the replication callbacks.
  void replicate_layers();
  static std::vector<Slot> slots(const torch::jit::Module& root, bool parameters);
  static ReplicaModuleList module_list(const torch::jit::Module& root, const SyncLayers& layers);

  ScriptedModel& model_;
  std::vector<torch::Device> devices_;
  std::vector<torch::jit::Module> copies_;
  bool copies_training_;            // the mode last given to the copies
  std::vector<SyncLayers> layers_;  // per copy
  std::vector<ReplicaModuleList> lists_;
  ContextList contexts_;
  std::vector<std::vector<Slot>> parameter_slots_, buffer_slots_;  // per copy
  std::shared_ptr<nn::StatsObserver> observer_;  // the model's, when the layers were made
};

}  // namespace replicascope::detail
