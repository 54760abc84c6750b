// SPDX-License-Identifier: MIT
// A C++ frontend module as a Model: replicated anew each step (clone_with_grad_edges and the
// replication callbacks), as DataParallelWithCallback does.
#pragma once

#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <string>

#include "replicascope/model/model.h"

namespace replicascope {

class FrontendModel : public Model {
 public:
  // Frontend modules have no virtual forward; `forward` calls the right one on the module or on
  // any of its clones.
  using ForwardFn = std::function<torch::Tensor(torch::nn::Module&, const torch::Tensor&)>;

  FrontendModel(std::shared_ptr<torch::nn::Module> module, ForwardFn forward, std::string source);

  // For a Cloneable module type with forward(const Tensor&).
  template <class ModuleType>
  static std::unique_ptr<FrontendModel> wrap(std::shared_ptr<ModuleType> module,
                                             std::string source) {
    return std::make_unique<FrontendModel>(
        std::move(module),
        [](torch::nn::Module& m, const torch::Tensor& x) {
          return dynamic_cast<ModuleType&>(m).forward(x);
        },
        std::move(source));
  }

  std::string kind() const override { return "frontend"; }
  std::string source() const override { return source_; }
  std::vector<ModelModule> modules() const override;
  NamedTensors named_parameters() const override;
  NamedTensors named_buffers() const override;
  void train(bool on) override { module_->train(on); }
  bool is_training() const override { return module_->is_training(); }
  torch::Tensor forward(const torch::Tensor& input) override { return forward_(*module_, input); }
  std::unique_ptr<ModelReplicas> replicate(const std::vector<torch::Device>& devices) override;
  void set_stats_observer(std::shared_ptr<nn::StatsObserver> observer) override;
  void set_process_group(std::shared_ptr<dist::ProcessGroup> group) override;

  const std::shared_ptr<torch::nn::Module>& module() const { return module_; }

 private:
  std::shared_ptr<torch::nn::Module> module_;
  ForwardFn forward_;
  std::string source_;
};

// "replicascope::nn::SynchronizedBatchNorm2dImpl" -> "SynchronizedBatchNorm2d".
std::string readable_frontend_type(const std::string& name);

}  // namespace replicascope
