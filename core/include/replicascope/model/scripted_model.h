// SPDX-License-Identifier: MIT
// A TorchScript model as a Model: loaded from a .pt file, its BatchNorm1d/2d/3d converted to
// synchronized batch norm, replicated by cloning, and saved back as plain TorchScript.
#pragma once

#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "replicascope/model/model.h"

namespace replicascope {

namespace script::detail {
class SyncLayer;
}

struct ScriptedModelOptions {
  // Reduce BatchNorm statistics over the copies (the default). Off: each copy normalizes with
  // its own batch, as plain data parallelism does; with `convert` on, the copies' statistics
  // are still observed (SynchronizedBatchNormOptions::synchronize_copies).
  TORCH_ARG(bool, synchronize) = true;
  // Run BatchNorm through this library's layer (the default). Off: PyTorch's own BatchNorm,
  // unsynchronized and unobserved (verify's reference).
  TORCH_ARG(bool, convert) = true;
  // Which tensor of forward()'s result the model's output is (model_output.h): auto (the
  // result when it is a tensor, else the first element that is [batch, K]), an element's number
  // or a named tuple's field name.
  TORCH_ARG(std::string, output) = "auto";
  // Every tensor of the result with a row per sample, flattened and joined (join_outputs), as
  // the output: verify compares them all. output_choice().parts says what is where.
  TORCH_ARG(bool, every_output) = false;
};

class ScriptedModel : public Model {
 public:
  // Takes a loaded module (script::load_module). It is kept as it is, to be saved into; the
  // model runs a converted clone of it.
  explicit ScriptedModel(torch::jit::Module loaded, std::string source = "",
                         ScriptedModelOptions options = {});
  // script::load_module, then the above. Throws script::ModelLoadError.
  static std::unique_ptr<ScriptedModel> load(const std::string& path,
                                             ScriptedModelOptions options = {});
  ~ScriptedModel() override;

  std::string kind() const override { return "torchscript"; }
  std::string source() const override { return source_; }
  std::vector<ModelModule> modules() const override { return modules_; }
  NamedTensors named_parameters() const override;
  NamedTensors named_buffers() const override;
  // Sets every module's training flag. is_training() answers what was last set, not the root's
  // flag: verify switches single modules (the root among them) off.
  void train(bool on) override {
    module_.train(on);
    training_ = on;
  }
  bool is_training() const override { return training_; }
  // The tensor options().output() picks of the module's result (output_choice() says which).
  torch::Tensor forward(const torch::Tensor& input) override;
  OutputChoice output_choice() const override { return output_; }
  std::unique_ptr<ModelReplicas> replicate(const std::vector<torch::Device>& devices) override;
  void set_stats_observer(std::shared_ptr<nn::StatsObserver> observer) override;
  void set_process_group(std::shared_ptr<dist::ProcessGroup> group) override;
  const std::shared_ptr<nn::StatsObserver>& stats_observer() const { return observer_; }

  const ScriptedModelOptions& options() const { return options_; }
  bool synchronized() const { return options_.convert() && options_.synchronize(); }
  bool converted() const { return options_.convert(); }
  // The module that runs (converted when synchronized). Its BatchNorm forward calls this
  // library's operator: save() it, not this.
  torch::jit::Module& module() { return module_; }
  const torch::jit::Module& module() const { return module_; }
  // The converted layers in module order (empty when not converted).
  const std::vector<std::shared_ptr<script::detail::SyncLayer>>& sync_layers() const {
    return layers_;
  }
  // A plain TorchScript module with this model's current parameters and buffers: BatchNorm is
  // PyTorch's again, so Python's torch.jit.load can read what is saved from it.
  torch::jit::Module export_plain() const;
  // Saves export_plain() to `path` atomically (write_atomically). Throws std::runtime_error
  // naming the path if it cannot be written.
  void save(const std::string& path) const;

 private:
  torch::jit::Module plain_;   // as loaded, never run
  torch::jit::Module module_;  // a clone, converted when synchronizing
  std::string source_;
  ScriptedModelOptions options_;
  std::vector<std::shared_ptr<script::detail::SyncLayer>> layers_;
  std::vector<ModelModule> modules_;
  std::shared_ptr<nn::StatsObserver> observer_;
  bool training_;
  OutputChoice output_;  // of the last forward()
};

}  // namespace replicascope
