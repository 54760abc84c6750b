// SPDX-License-Identifier: MIT
#include "sync_layers.h"

#include <torch/csrc/jit/frontend/resolver.h>
#include <torch/csrc/jit/frontend/sugared_value.h>
#include <torch/library.h>

#include <atomic>
#include <mutex>
#include <set>
#include <unordered_map>

namespace replicascope::script::detail {
namespace {

constexpr const char* kLayerAttribute = "_replicascope_layer";

// The forward every converted BatchNorm class type gets. The synchronized layer does what
// BatchNorm's own forward does around F.batch_norm (the input check, num_batches_tracked, the
// momentum or cumulative average, eval with running statistics), on the module's own tensors.
constexpr const char* kForwardSource = R"(
def forward(self, input: Tensor) -> Tensor:
    return replicascope.sync_batch_norm(input, self.weight, self.bias, self.running_mean,
                                        self.running_var, self.num_batches_tracked,
                                        self.training, self._replicascope_layer)
)";

class Registry {
 public:
  static Registry& instance() {
    static Registry* registry = new Registry;  // never destroyed: layers may outlive statics
    return *registry;
  }
  int64_t add(SyncLayer* layer) {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t id = next_id_++;
    layers_[id] = layer;
    return id;
  }
  void remove(int64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    layers_.erase(id);
  }
  SyncLayer& find(int64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = layers_.find(id);
    if (it == layers_.end()) {
      throw std::runtime_error(
          "replicascope.sync_batch_norm: synchronized layer " + std::to_string(id) +
          " no longer exists (the model or replicas that owned this converted module were "
          "released); run the model through its ScriptedModel");
    }
    return *it->second;
  }

 private:
  std::mutex mutex_;
  int64_t next_id_ = 1;
  std::unordered_map<int64_t, SyncLayer*> layers_;
};

torch::Tensor sync_batch_norm(const torch::Tensor& input,
                              const c10::optional<torch::Tensor>& weight,
                              const c10::optional<torch::Tensor>& bias,
                              const c10::optional<torch::Tensor>& running_mean,
                              const c10::optional<torch::Tensor>& running_var,
                              const c10::optional<torch::Tensor>& num_batches_tracked,
                              bool training, int64_t layer_id) {
  // Each layer belongs to one copy, and a copy runs on one thread: no lock needed past find().
  auto& layer = Registry::instance().find(layer_id).layer();
  layer.weight = weight.value_or(torch::Tensor());
  layer.bias = bias.value_or(torch::Tensor());
  layer.running_mean = running_mean.value_or(torch::Tensor());
  layer.running_var = running_var.value_or(torch::Tensor());
  layer.num_batches_tracked = num_batches_tracked.value_or(torch::Tensor());
  return layer.forward_in_mode(input, training);
}

// Resolves "replicascope.<op>" in the forward source to this library's operators, everything
// else as TorchScript's native resolver does.
struct OperatorResolver : torch::jit::Resolver {
  std::shared_ptr<torch::jit::SugaredValue> resolveValue(
      const std::string& name, torch::jit::GraphFunction& m,
      const torch::jit::SourceRange& loc) override {
    if (name == "replicascope") return std::make_shared<torch::jit::BuiltinModule>("replicascope");
    return native_->resolveValue(name, m, loc);
  }
  torch::jit::TypePtr resolveType(const std::string& name,
                                  const torch::jit::SourceRange& loc) override {
    return native_->resolveType(name, loc);
  }
  std::shared_ptr<torch::jit::NativeResolver> native_ = torch::jit::nativeResolver();
};

std::shared_ptr<torch::nn::Module> make_layer(const BatchNormInfo& info) {
  auto options = nn::SynchronizedBatchNormOptions(info.num_features)
                     .eps(info.eps)
                     .momentum(info.momentum ? c10::optional<double>(*info.momentum) : c10::nullopt)
                     .affine(info.affine)
                     .track_running_stats(info.track_running_stats);
  switch (info.dims) {
    case 1:
      return nn::SynchronizedBatchNorm1d(options).ptr();
    case 3:
      return nn::SynchronizedBatchNorm3d(options).ptr();
    default:
      return nn::SynchronizedBatchNorm2d(options).ptr();
  }
}

void set_layer_id(torch::jit::Module& module, int64_t id) {
  module.register_attribute(kLayerAttribute, c10::IntType::get(), id);
}

void replace_forward(torch::jit::Module& module) {
  const auto type = module.type();
  const auto cu = module._ivalue()->compilation_unit();
  if (type->findMethod("forward")) {
    type->unsafeRemoveMethod("forward");
    cu->unsafeRemoveMethod(c10::QualifiedName(*type->name(), "forward"));
  }
  module.define(kForwardSource, std::make_shared<OperatorResolver>());
}

}  // namespace

SyncLayer::SyncLayer(const BatchNormInfo& info, const std::string& name)
    : name_(name), info_(info), module_(make_layer(info)) {
  layer_ = dynamic_cast<nn::SynchronizedBatchNormBase*>(module_.get());
  layer_->set_layer_name(name);
  id_ = Registry::instance().add(this);
}

void SyncLayer::bind(const torch::jit::Module& batchnorm) const {
  auto tensor = [&](const char* name) {
    if (!batchnorm.hasattr(name)) return torch::Tensor();
    const auto value = batchnorm.attr(name);
    return value.isTensor() ? value.toTensor() : torch::Tensor();
  };
  layer_->weight = tensor("weight");
  layer_->bias = tensor("bias");
  layer_->running_mean = tensor("running_mean");
  layer_->running_var = tensor("running_var");
  layer_->num_batches_tracked = tensor("num_batches_tracked");
}

SyncLayer::~SyncLayer() {
  Registry::instance().remove(id_);
}

torch::jit::Module detached_clone(const torch::jit::Module& module) {
  torch::jit::Module out;
  {
    torch::NoGradGuard no_grad;
    out = module.clone();
  }
  auto source = module.parameters(/*recurse=*/true).begin();
  for (const auto& param : out.parameters(/*recurse=*/true)) {
    param.requires_grad_((*source).requires_grad());
    ++source;
  }
  return out;
}

std::vector<BatchNormModule> batchnorm_modules(const torch::jit::Module& root) {
  std::vector<BatchNormModule> out;
  for (const auto& item : root.named_modules()) {
    if (auto info = batch_norm_info(item.value)) out.push_back({item.name, item.value, *info});
  }
  return out;
}

SyncLayers convert_batchnorms(torch::jit::Module& root) {
  SyncLayers layers;
  std::set<const c10::ClassType*> converted;  // a class type shared by instances: once
  for (auto& bn : batchnorm_modules(root)) {
    auto layer = std::make_shared<SyncLayer>(bn.info, bn.name);
    set_layer_id(bn.module, layer->id());
    layer->bind(bn.module);
    if (converted.insert(bn.module.type().get()).second) replace_forward(bn.module);
    layers.push_back(std::move(layer));
  }
  return layers;
}

SyncLayers attach_layers(torch::jit::Module& clone, const SyncLayers& like) {
  auto modules = batchnorm_modules(clone);
  if (modules.size() != like.size()) {
    throw std::logic_error("attach_layers: the clone has " + std::to_string(modules.size()) +
                           " BatchNorm modules, its source " + std::to_string(like.size()));
  }
  SyncLayers layers;
  for (size_t i = 0; i < modules.size(); ++i) {
    auto layer = std::make_shared<SyncLayer>(like[i]->info(), like[i]->name());
    layer->layer().set_stats_observer(like[i]->layer().stats_observer());
    layer->layer().set_process_group(like[i]->layer().process_group());
    layer->layer().options.synchronize_copies(like[i]->layer().options.synchronize_copies());
    set_layer_id(modules[i].module, layer->id());
    layers.push_back(std::move(layer));
  }
  return layers;
}

TORCH_LIBRARY(replicascope, m) {
  m.def(
      "sync_batch_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, "
      "Tensor? running_var, Tensor? num_batches_tracked, bool training, int layer) -> Tensor",
      &sync_batch_norm);
}

}  // namespace replicascope::script::detail
