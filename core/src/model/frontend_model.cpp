// SPDX-License-Identifier: MIT
#include "replicascope/model/frontend_model.h"

#include <torch/torch.h>

#include "replicascope/nn/sync_batchnorm.h"

namespace replicascope {
namespace {

template <class Dict>
NamedTensors named(const Dict& dict) {
  NamedTensors out;
  for (const auto& item : dict) out.emplace_back(item.key(), item.value());
  return out;
}

class FrontendReplicas : public ModelReplicas {
 public:
  FrontendReplicas(std::shared_ptr<torch::nn::Module> module, FrontendModel::ForwardFn forward,
                   std::vector<torch::Device> devices)
      : module_(std::move(module)), forward_(std::move(forward)), devices_(std::move(devices)) {
    if (devices_.empty()) throw std::invalid_argument("replicate: expected at least one device");
    refresh();
  }
  const std::vector<torch::Device>& devices() const override { return devices_; }
  const ContextList& contexts() const override { return contexts_; }
  const std::vector<ReplicaModuleList>& copy_modules() const override { return lists_; }
  // Frontend modules' own tensor handles cannot be re-pointed from outside, so the copies are
  // cloned anew from the module's current state, with the callbacks run again.
  void refresh() override {
    copies_ = clone_with_grad_edges(module_, devices_);
    lists_.clear();
    for (const auto& copy : copies_) lists_.push_back(list_modules(copy));
    contexts_ = execute_replication_callbacks(lists_, list_modules(module_));
  }
  torch::Tensor forward(size_t copy, const torch::Tensor& input) override {
    return forward_(*copies_.at(copy), input);
  }
  void end_step(size_t copy, std::exception_ptr error) override {
    end_copy_step(*copies_.at(copy), std::move(error));
  }

 private:
  std::shared_ptr<torch::nn::Module> module_;
  FrontendModel::ForwardFn forward_;
  std::vector<torch::Device> devices_;
  std::vector<std::shared_ptr<torch::nn::Module>> copies_;
  std::vector<ReplicaModuleList> lists_;
  ContextList contexts_;
};

}  // namespace

std::string readable_frontend_type(const std::string& name) {
  auto readable = name.substr(name.rfind(':') == std::string::npos ? 0 : name.rfind(':') + 1);
  const std::string impl = "Impl";
  if (readable.size() > impl.size() &&
      readable.compare(readable.size() - impl.size(), impl.size(), impl) == 0) {
    readable.resize(readable.size() - impl.size());
  }
  return readable;
}

FrontendModel::FrontendModel(std::shared_ptr<torch::nn::Module> module, ForwardFn forward,
                             std::string source)
    : module_(std::move(module)), forward_(std::move(forward)), source_(std::move(source)) {
  if (!module_) throw std::invalid_argument("FrontendModel: expected a module, got null");
}

std::vector<ModelModule> FrontendModel::modules() const {
  std::vector<ModelModule> out;
  for (const auto& item : module_->named_modules()) {
    const auto& module = item.value();
    ModelModule m;
    m.name = item.key();
    m.full_type = module->name();
    m.type = readable_frontend_type(m.full_type);
    m.depth =
        m.name.empty() ? 0 : 1 + static_cast<int>(std::count(m.name.begin(), m.name.end(), '.'));
    for (const auto& p : module->parameters(/*recurse=*/false)) m.own_parameter_count += p.numel();
    for (const auto& p : module->parameters(/*recurse=*/true)) {
      m.subtree_parameter_count += p.numel();
    }
    m.synchronized = dynamic_cast<nn::SynchronizedBatchNormBase*>(module.get()) != nullptr;
    m.receives_callbacks = dynamic_cast<ReplicationCallback*>(module.get()) != nullptr;
    out.push_back(std::move(m));
  }
  return out;
}

NamedTensors FrontendModel::named_parameters() const {
  return named(module_->named_parameters(/*recurse=*/true));
}

NamedTensors FrontendModel::named_buffers() const {
  return named(module_->named_buffers(/*recurse=*/true));
}

std::unique_ptr<ModelReplicas> FrontendModel::replicate(const std::vector<torch::Device>& devices) {
  return std::make_unique<FrontendReplicas>(module_, forward_, devices);
}

void FrontendModel::set_stats_observer(std::shared_ptr<nn::StatsObserver> observer) {
  nn::set_stats_observer(*module_, std::move(observer));
}

void FrontendModel::set_process_group(std::shared_ptr<dist::ProcessGroup> group) {
  nn::set_process_group(*module_, std::move(group));
}

}  // namespace replicascope
