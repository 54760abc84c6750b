// SPDX-License-Identifier: MIT
#include "replicascope/nn/convert_model.h"

#include "replicascope/parallel/module_walk.h"

#include <torch/torch.h>

namespace replicascope::nn {
namespace {

template <class Sync, class Plain>
std::shared_ptr<torch::nn::Module> convert_one(const Plain& bn, const ConvertOptions& options) {
  auto sync_options = SynchronizedBatchNormOptions::from(bn.options)
                          .eps_mode(options.eps_mode)
                          .timeout(options.timeout);
  auto layer = std::make_shared<Sync>(sync_options);
  layer->adopt_tensors(bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked);
  layer->train(bn.is_training());
  return layer;
}

// The synchronized replacement of `module`, or null if it is not a plain BatchNorm.
std::shared_ptr<torch::nn::Module> replacement(const std::shared_ptr<torch::nn::Module>& module,
                                               const ConvertOptions& options) {
  if (auto bn = std::dynamic_pointer_cast<torch::nn::BatchNorm1dImpl>(module)) {
    return convert_one<SynchronizedBatchNorm1dImpl>(*bn, options);
  }
  if (auto bn = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(module)) {
    return convert_one<SynchronizedBatchNorm2dImpl>(*bn, options);
  }
  if (auto bn = std::dynamic_pointer_cast<torch::nn::BatchNorm3dImpl>(module)) {
    return convert_one<SynchronizedBatchNorm3dImpl>(*bn, options);
  }
  return nullptr;
}

// An AnyModule holding `layer`, whatever its dimension.
torch::nn::AnyModule as_any(const std::shared_ptr<torch::nn::Module>& layer) {
  if (auto l = std::dynamic_pointer_cast<SynchronizedBatchNorm1dImpl>(layer))
    return torch::nn::AnyModule(l);
  if (auto l = std::dynamic_pointer_cast<SynchronizedBatchNorm2dImpl>(layer))
    return torch::nn::AnyModule(l);
  return torch::nn::AnyModule(std::dynamic_pointer_cast<SynchronizedBatchNorm3dImpl>(layer));
}

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

bool is_container(const torch::nn::Module& module) {
  return dynamic_cast<const torch::nn::SequentialImpl*>(&module) ||
         dynamic_cast<const torch::nn::ModuleListImpl*>(&module) ||
         dynamic_cast<const torch::nn::ModuleDictImpl*>(&module);
}

bool is_plain_batchnorm(const std::shared_ptr<torch::nn::Module>& module) {
  return std::dynamic_pointer_cast<torch::nn::BatchNorm1dImpl>(module) ||
         std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(module) ||
         std::dynamic_pointer_cast<torch::nn::BatchNorm3dImpl>(module);
}

// BatchNorm layers whose parent reaches them through typed members: a C++ module's forward uses
// its members, not its child registry, so swapping the registry entry would change nothing.
void find_unconvertible(const torch::nn::Module& parent, const std::string& prefix,
                        std::vector<std::string>& out) {
  for (const auto& item : parent.named_children()) {
    const auto name = join(prefix, item.key());
    if (!is_plain_batchnorm(item.value())) {
      find_unconvertible(*item.value(), name, out);
    } else if (!is_container(parent)) {
      out.push_back("'" + name + "' (a " + item.value()->name() + " in a " + parent.name() + ")");
    }
  }
}

void convert_children(torch::nn::Module& parent, const ConvertOptions& options) {
  for (const auto& item : parent.named_children()) {
    const auto& child = item.value();
    auto layer = replacement(child, options);
    if (!layer) {
      convert_children(*child, options);
      continue;
    }
    // Swap the layer in the container's own storage (what its forward and indexing use) and in
    // the child registry (what parameters() and named_modules() use).
    if (auto* seq = dynamic_cast<torch::nn::SequentialImpl*>(&parent)) {
      for (auto& any : *seq) {
        if (any.ptr() == child) any = as_any(layer);
      }
    } else if (auto* list = dynamic_cast<torch::nn::ModuleListImpl*>(&parent)) {
      for (auto& entry : *list) {
        if (entry == child) entry = layer;
      }
    } else if (auto* dict = dynamic_cast<torch::nn::ModuleDictImpl*>(&parent)) {
      for (auto& entry : *dict) {
        if (entry.value() == child) entry.value() = layer;
      }
    }
    parent.replace_module(item.key(), layer);
  }
}

}  // namespace

std::shared_ptr<torch::nn::Module> convert_model(const std::shared_ptr<torch::nn::Module>& module,
                                                 const ConvertOptions& options) {
  if (!module) throw std::invalid_argument("convert_model: expected a module, got null");
  auto root = replacement(module, options);
  if (!root) {
    std::vector<std::string> unconvertible;
    find_unconvertible(*module, "", unconvertible);
    if (!unconvertible.empty()) {
      std::string list;
      for (const auto& entry : unconvertible) list += (list.empty() ? "" : ", ") + entry;
      throw std::invalid_argument(
          "convert_model: cannot replace " + list +
          ": a C++ module reaches such a layer through a typed member that the conversion "
          "cannot rewrite. Declare the member as the matching "
          "replicascope::nn::SynchronizedBatchNorm*d, or hold the layer in a Sequential, "
          "ModuleList or ModuleDict. Nothing was changed.");
    }
    root = module;
    convert_children(*root, options);
  }
  name_sync_layers(*root);
  return root;
}

void name_sync_layers(torch::nn::Module& module) {
  for_each_module(module, [](const std::string& name, torch::nn::Module& child) {
    if (auto* bn = dynamic_cast<SynchronizedBatchNormBase*>(&child)) bn->set_layer_name(name);
  });
}

}  // namespace replicascope::nn
