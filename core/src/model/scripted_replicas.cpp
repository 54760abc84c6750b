// SPDX-License-Identifier: MIT
#include "scripted_replicas.h"

#include <torch/torch.h>

#include "replicascope/torchscript/module_file.h"
#include "sync_layers.h"

namespace replicascope::detail {

SelectedOutput model_output(const c10::IValue& output, const ScriptedModelOptions& options,
                            int64_t batch, const std::string& source) {
  if (!options.every_output()) return select_output(output, options.output(), batch, source);
  auto joined = join_outputs(output, batch, source);
  try {
    const auto selected = select_output(output, options.output(), batch, source);
    joined.choice.element = selected.choice.element;
    joined.choice.sizes = selected.choice.sizes;
  } catch (const OutputChoiceError&) {
    throw;  // an --output that picks nothing is an error here too
  } catch (const std::invalid_argument&) {
    // No element auto would train on: every tensor is compared all the same.
  }
  return joined;
}

ScriptedReplicas::ScriptedReplicas(ScriptedModel& model, std::vector<torch::Device> devices)
    : model_(model), devices_(std::move(devices)), copies_training_(model.is_training()) {
  if (devices_.empty()) throw std::invalid_argument("replicate: expected at least one device");
  for (size_t i = 0; i < devices_.size(); ++i) {
    // New module objects and class types (and compiled methods) per copy, sharing the model's
    // tensors until refresh() points them at their values on the copy's device: nothing is
    // copied twice. (Module::to() would move the shared tensors in place, the model's too.)
    auto copy = model_.module().clone(/*inplace=*/true);
    parameter_slots_.push_back(slots(copy, /*parameters=*/true));
    buffer_slots_.push_back(slots(copy, /*parameters=*/false));
    copies_.push_back(std::move(copy));
  }
  replicate_layers();
}

std::vector<ScriptedReplicas::Slot> ScriptedReplicas::slots(const torch::jit::Module& root,
                                                            bool parameters) {
  std::vector<Slot> out;
  for (const auto& item : root.named_modules()) {
    if (parameters) {
      for (const auto& p : item.value.named_parameters(/*recurse=*/false))
        out.push_back({item.value, p.name});
    } else {
      for (const auto& b : item.value.named_buffers(/*recurse=*/false))
        out.push_back({item.value, b.name});
    }
  }
  return out;
}

ReplicaModuleList ScriptedReplicas::module_list(const torch::jit::Module& root,
                                                const SyncLayers& layers) {
  ReplicaModuleList out;
  size_t next_layer = 0;
  for (const auto& item : root.named_modules()) {
    const auto& name = item.value.type()->name();
    ReplicaModule entry;
    entry.name = item.name;
    // Clones get mangled class names; copies are compared by the unmangled one.
    entry.type = script::canonical_type(name ? name->qualifiedName() : "");
    if (next_layer < layers.size() && layers[next_layer]->name() == item.name) {
      entry.callback = &layers[next_layer]->layer();
      entry.module = layers[next_layer]->module();
      ++next_layer;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

void ScriptedReplicas::replicate_layers() {
  observer_ = model_.stats_observer();
  const auto& origin_layers = model_.sync_layers();
  const auto origin_modules = script::detail::batchnorm_modules(model_.module());
  for (size_t k = 0; k < origin_layers.size(); ++k)
    origin_layers[k]->bind(origin_modules[k].module);
  layers_.clear();
  lists_.clear();
  for (auto& copy : copies_) {
    layers_.push_back(model_.converted() ? script::detail::attach_layers(copy, origin_layers)
                                         : SyncLayers{});
    lists_.push_back(module_list(copy, layers_.back()));
  }
  contexts_ = execute_replication_callbacks(lists_, module_list(model_.module(), origin_layers));
}

void ScriptedReplicas::refresh() {
  if (model_.stats_observer() != observer_) replicate_layers();
  std::vector<torch::Tensor> params, buffers;
  for (const auto& p : model_.module().named_parameters(/*recurse=*/true))
    params.push_back(p.value);
  for (const auto& b : model_.module().named_buffers(/*recurse=*/true)) buffers.push_back(b.value);
  const auto param_values = broadcast_with_grad_edges(params, devices_);
  torch::NoGradGuard no_grad;
  // The copies are clones: they keep modules the model switched off singly (verify's) off
  // until the model's mode changes.
  const bool training = model_.is_training();
  if (copies_training_ != training) {
    for (auto& copy : copies_) copy.train(training);
    copies_training_ = training;
  }
  for (size_t i = 0; i < copies_.size(); ++i) {
    for (size_t k = 0; k < params.size(); ++k) {
      parameter_slots_[i][k].owner.setattr(parameter_slots_[i][k].attribute, param_values[i][k]);
    }
    // Buffers as torch.nn.DataParallel has them: copy 0 uses the model's own (BatchNorm running
    // statistics updated there stay), the other copies get copies.
    for (size_t k = 0; k < buffers.size(); ++k) {
      const bool own = i == 0 && devices_[0] == buffers[k].device();
      auto value = own ? buffers[k]
                       : buffers[k].to(devices_[i], /*non_blocking=*/false,
                                       /*copy=*/true);
      buffer_slots_[i][k].owner.setattr(buffer_slots_[i][k].attribute, value);
    }
  }
}

torch::Tensor ScriptedReplicas::forward(size_t copy, const torch::Tensor& input) {
  return model_output(copies_.at(copy).forward({input}), model_.options(), input.size(0),
                      model_.source())
      .tensor;
}

void ScriptedReplicas::end_step(size_t copy, std::exception_ptr error) {
  for (const auto& layer : layers_.at(copy)) layer->layer().data_parallel_step_end(error);
}

}  // namespace replicascope::detail
