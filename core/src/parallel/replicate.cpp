// SPDX-License-Identifier: MIT
#include "replicascope/parallel/replicate.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/torch.h>

#include <algorithm>

#include "replicascope/parallel/copy_backward.h"
#include "replicascope/parallel/module_walk.h"

namespace replicascope {
namespace {

std::string copy_shape(const ReplicaModuleList& modules) {
  return std::to_string(modules.size()) + " modules";
}

void check_same_tree(const ReplicaModuleList& expected, const ReplicaModuleList& given,
                     const std::string& what) {
  if (expected.size() != given.size()) {
    throw std::invalid_argument("execute_replication_callbacks: " + what + " has " +
                                copy_shape(given) + ", the master copy has " +
                                copy_shape(expected) + "; copies must be isomorphic");
  }
  for (size_t j = 0; j < expected.size(); ++j) {
    if (expected[j].type != given[j].type) {
      throw std::invalid_argument("execute_replication_callbacks: module " + std::to_string(j) +
                                  " ('" + expected[j].name + "') is a " + expected[j].type +
                                  " in the master copy but a " + given[j].type + " in " + what +
                                  "; copies must be isomorphic");
    }
  }
}

// The backward of "every copy's parameter is the original parameter": the sum of the copies'
// gradients, on the original's device.
struct ReduceAddBackward : torch::autograd::Node, SumsItsInputs {
  explicit ReduceAddBackward(torch::Device device) : destination(device) {}
  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    return {sum_in_copy_order(grads, destination)};
  }
  std::string name() const override { return "replicascope::ReduceAddBackward"; }
  torch::Device destination;
};

void link_parameters(const torch::nn::Module& origin,
                     const std::vector<std::shared_ptr<torch::nn::Module>>& copies) {
  std::vector<torch::OrderedDict<std::string, torch::Tensor>> copy_params;
  for (const auto& copy : copies) copy_params.push_back(copy->named_parameters(/*recurse=*/true));
  for (const auto& item : origin.named_parameters(/*recurse=*/true)) {
    const auto& param = item.value();
    if (!param.requires_grad()) continue;
    auto node = std::make_shared<ReduceAddBackward>(param.device());
    node->set_next_edges(torch::autograd::collect_next_edges(param));
    // The handles share their TensorImpl with the copies' registered parameters, so giving them
    // a history gives the copies' parameters that history.
    for (auto& params : copy_params) torch::autograd::set_history(params[item.key()], node);
  }
}

}  // namespace

std::vector<std::shared_ptr<torch::nn::Module>> clone_with_grad_edges(
    const std::shared_ptr<torch::nn::Module>& module, const std::vector<torch::Device>& devices) {
  if (!module) throw std::invalid_argument("replicate: expected a module, got null");
  std::vector<std::shared_ptr<torch::nn::Module>> copies;
  for (const auto& device : devices) copies.push_back(module->clone(device));
  link_parameters(*module, copies);
  return copies;
}

std::vector<std::vector<torch::Tensor>> broadcast_with_grad_edges(
    const std::vector<torch::Tensor>& origins, const std::vector<torch::Device>& devices) {
  std::vector<std::vector<torch::Tensor>> out(devices.size());
  for (auto& values : out) values.reserve(origins.size());
  for (const auto& origin : origins) {
    std::shared_ptr<ReduceAddBackward> node;
    if (torch::GradMode::is_enabled() && origin.requires_grad()) {
      node = std::make_shared<ReduceAddBackward>(origin.device());
      node->set_next_edges(torch::autograd::collect_next_edges(origin));
    }
    for (size_t i = 0; i < devices.size(); ++i) {
      // variable_data(): the same storage under a new tensor without history (not a view,
      // whose history autograd may rebuild from its base).
      auto value =
          devices[i] == origin.device() ? origin.variable_data() : origin.detach().to(devices[i]);
      if (node) torch::autograd::set_history(value, node);
      out[i].push_back(std::move(value));
    }
  }
  return out;
}

ReplicaModuleList list_modules(const std::shared_ptr<torch::nn::Module>& root) {
  ReplicaModuleList out;
  for (const auto& item : root->named_modules()) {
    const auto& module = item.value();
    out.push_back(
        {item.key(), module->name(), dynamic_cast<ReplicationCallback*>(module.get()), module});
  }
  return out;
}

ContextList execute_replication_callbacks(const std::vector<ReplicaModuleList>& copies,
                                          const ReplicaModuleList& origins) {
  if (copies.empty()) return {};
  const auto& master = copies.front();
  for (size_t i = 1; i < copies.size(); ++i) {
    check_same_tree(master, copies[i], "copy " + std::to_string(i));
  }
  if (!origins.empty()) check_same_tree(master, origins, "the replicated module");

  ContextList contexts;
  for (size_t j = 0; j < master.size(); ++j) {
    contexts.push_back(
        std::make_shared<CallbackContext>(static_cast<int>(j), master[j].name, master[j].type));
    if (!origins.empty()) contexts.back()->set_origin(origins[j].module);
  }
  // Copy-major order, as the Python original: every callback of copy 0 (the master) runs before
  // any of copy 1, so a master can leave state in the context for its slaves.
  int order = 0;
  for (size_t i = 0; i < copies.size(); ++i) {
    for (size_t j = 0; j < master.size(); ++j) {
      if (auto* callback = copies[i][j].callback) {
        contexts[j]->record_call({static_cast<int>(i), order++});
        callback->data_parallel_replicate(*contexts[j], static_cast<int>(i));
      }
    }
  }
  return contexts;
}

ContextList execute_replication_callbacks(
    const std::vector<std::shared_ptr<torch::nn::Module>>& copies,
    const std::shared_ptr<torch::nn::Module>& origin) {
  std::vector<ReplicaModuleList> lists;
  for (const auto& copy : copies) {
    if (!copy) throw std::invalid_argument("execute_replication_callbacks: a copy is null");
    lists.push_back(list_modules(copy));
  }
  return execute_replication_callbacks(lists, origin ? list_modules(origin) : ReplicaModuleList{});
}

void end_copy_step(torch::nn::Module& copy, std::exception_ptr error) {
  for_each_module(copy, [&](const std::string&, torch::nn::Module& module) {
    if (auto* callback = dynamic_cast<ReplicationCallback*>(&module)) {
      callback->data_parallel_step_end(error);
    }
  });
}

}  // namespace replicascope
