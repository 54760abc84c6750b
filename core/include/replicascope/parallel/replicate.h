// SPDX-License-Identifier: MIT
// Replication with callbacks: clone a module per device, then let every copy that opts in know
// its copy id and the context it shares with the other copies of the same module.
#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "replicascope/parallel/callback_context.h"
#include "replicascope/parallel/copy_runner.h"
#include "replicascope/parallel/replication_callback.h"

namespace replicascope {

using ContextList = std::vector<std::shared_ptr<CallbackContext>>;

// One module of one copy as the replication walker sees it. Kept free of the C++ frontend so
// that other module kinds (TorchScript) can be walked the same way.
struct ReplicaModule {
  std::string name;                           // qualified name, "" for the root
  std::string type;                           // type name, compared across copies
  ReplicationCallback* callback = nullptr;    // null when the module does not opt in
  std::shared_ptr<torch::nn::Module> module;  // the frontend module, when there is one
};
using ReplicaModuleList = std::vector<ReplicaModule>;

// The modules of a frontend module tree in module order (pre-order, as Module::modules()).
ReplicaModuleList list_modules(const std::shared_ptr<torch::nn::Module>& root);

// Runs the replication callbacks: copy i, module j gets (contexts[j], i). Every callback of copy
// 0 (the master) runs before any callback of another copy. Copies whose module trees differ in
// size or in a module's type are refused with std::invalid_argument before any callback runs.
// `origins`, when given, is the module list of the replicated module; it must match too, and
// contexts[j].origin() is set to origins[j].module.
ContextList execute_replication_callbacks(const std::vector<ReplicaModuleList>& copies,
                                          const ReplicaModuleList& origins = {});

// The same for frontend modules.
ContextList execute_replication_callbacks(
    const std::vector<std::shared_ptr<torch::nn::Module>>& copies,
    const std::shared_ptr<torch::nn::Module>& origin = nullptr);

template <class ModuleType>
struct Replicas {
  std::vector<std::shared_ptr<ModuleType>> copies;
  std::vector<torch::Device> devices;
  ContextList contexts;
};

template <class ModuleType>
std::vector<std::shared_ptr<torch::nn::Module>> as_modules(
    const std::vector<std::shared_ptr<ModuleType>>& copies) {
  return {copies.begin(), copies.end()};
}

// Clones `module` once per device and links every copy's parameters to the module's own, so that
// backward() through any copy accumulates into the module's parameters (the copies' gradients
// are summed), as torch::nn::parallel::replicate does. That header needs CUDA's headers, so
// LibTorch builds without CUDA cannot use it. The module must be Cloneable.
std::vector<std::shared_ptr<torch::nn::Module>> clone_with_grad_edges(
    const std::shared_ptr<torch::nn::Module>& module, const std::vector<torch::Device>& devices);

// The values of `origins` on each device, result[i][k] for device i and origin k: the origin's
// own storage on its device (no copy), a copy elsewhere. Those that require grad (with grad mode
// on) get a backward that adds the devices' gradients into the origin, as Broadcast does.
std::vector<std::vector<torch::Tensor>> broadcast_with_grad_edges(
    const std::vector<torch::Tensor>& origins, const std::vector<torch::Device>& devices);

// clone_with_grad_edges, then the replication callbacks.
template <class ModuleType>
Replicas<ModuleType> replicate(const std::shared_ptr<ModuleType>& module,
                               const std::vector<torch::Device>& devices) {
  if (devices.empty()) throw std::invalid_argument("replicate: expected at least one device");
  Replicas<ModuleType> out;
  for (const auto& copy : clone_with_grad_edges(module, devices)) {
    out.copies.push_back(std::dynamic_pointer_cast<ModuleType>(copy));
  }
  out.devices = devices;
  out.contexts = execute_replication_callbacks(as_modules(out.copies), module);
  return out;
}

// The C++ counterpart of Python's patch_replication_callback: wraps a user's own replicate
// function `fn(module, devices) -> std::vector<std::shared_ptr<ModuleType>>` so that the
// callbacks run on what it returns.
template <class ModuleType, class ReplicateFn>
auto with_replication_callbacks(ReplicateFn fn) {
  return [fn = std::move(fn)](const std::shared_ptr<ModuleType>& module,
                              const std::vector<torch::Device>& devices) {
    auto copies = fn(module, devices);
    execute_replication_callbacks(as_modules(copies), module);
    return copies;
  };
}

// Tells every callback module of `copy` that the copy's step ended (see
// ReplicationCallback::data_parallel_step_end).
void end_copy_step(torch::nn::Module& copy, std::exception_ptr error);

// Forward of copy i on inputs[i] for all copies, each on its own thread, ending each copy's step
// on its callback modules. Outputs stay on their copy's device.
template <class ModuleType>
std::vector<torch::Tensor> parallel_apply(const std::vector<std::shared_ptr<ModuleType>>& copies,
                                          const std::vector<torch::Tensor>& inputs,
                                          const std::vector<torch::Device>& devices) {
  if (copies.size() != inputs.size() || copies.size() != devices.size()) {
    throw std::invalid_argument("parallel_apply: expected as many inputs and devices as copies (" +
                                std::to_string(copies.size()) + "), got " +
                                std::to_string(inputs.size()) + " inputs and " +
                                std::to_string(devices.size()) + " devices");
  }
  return run_copy_steps(
      devices, [&](size_t i) { return copies[i]->forward(inputs[i]); },
      [&](size_t i, std::exception_ptr error) { end_copy_step(*copies[i], std::move(error)); });
}

}  // namespace replicascope
