// SPDX-License-Identifier: MIT
#include "replicascope/model/scripted_model.h"

#include <torch/torch.h>

#include "replicascope/base/atomic_write.h"
#include "replicascope/torchscript/module_file.h"
#include "scripted_replicas.h"
#include "sync_layers.h"

namespace replicascope {
namespace {

template <class List>
NamedTensors named(const List& list) {
  NamedTensors out;
  for (const auto& item : list) out.emplace_back(item.name, item.value);
  return out;
}

std::vector<ModelModule> describe_modules(const torch::jit::Module& module, bool converted,
                                          bool synchronized) {
  std::vector<ModelModule> out;
  for (const auto& info : script::inspect(module)) {
    ModelModule m;
    m.name = info.name;
    m.type = info.type;
    m.full_type = info.full_type;
    m.depth = info.depth;
    m.own_parameter_count = info.own_parameter_count;
    m.subtree_parameter_count = info.subtree_parameter_count;
    m.synchronized = converted && synchronized && info.batch_norm.has_value();
    m.receives_callbacks = converted && info.batch_norm.has_value();
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

ScriptedModel::ScriptedModel(torch::jit::Module loaded, std::string source,
                             ScriptedModelOptions options)
    : plain_(std::move(loaded)),
      module_(script::detail::detached_clone(plain_)),
      source_(std::move(source)),
      options_(options),
      training_(module_.is_training()) {
  if (!options_.output().empty()) check_output_choice(options_.output());  // "" is auto too
  if (options_.convert()) {
    layers_ = script::detail::convert_batchnorms(module_);
    for (const auto& layer : layers_) {
      layer->layer().options.synchronize_copies(options_.synchronize());
    }
  }
  modules_ = describe_modules(module_, options_.convert(), options_.synchronize());
}

ScriptedModel::~ScriptedModel() = default;

std::unique_ptr<ScriptedModel> ScriptedModel::load(const std::string& path,
                                                   ScriptedModelOptions options) {
  return std::make_unique<ScriptedModel>(script::load_module(path), path, options);
}

NamedTensors ScriptedModel::named_parameters() const {
  return named(module_.named_parameters(/*recurse=*/true));
}

NamedTensors ScriptedModel::named_buffers() const {
  return named(module_.named_buffers(/*recurse=*/true));
}

torch::Tensor ScriptedModel::forward(const torch::Tensor& input) {
  auto selected = detail::model_output(module_.forward({input}), options_, input.size(0), source_);
  output_ = std::move(selected.choice);
  return selected.tensor;
}

std::unique_ptr<ModelReplicas> ScriptedModel::replicate(const std::vector<torch::Device>& devices) {
  return std::make_unique<detail::ScriptedReplicas>(*this, devices);
}

void ScriptedModel::set_stats_observer(std::shared_ptr<nn::StatsObserver> observer) {
  observer_ = std::move(observer);
  for (const auto& layer : layers_) layer->layer().set_stats_observer(observer_);
}

void ScriptedModel::set_process_group(std::shared_ptr<dist::ProcessGroup> group) {
  for (const auto& layer : layers_) layer->layer().set_process_group(group);
}

torch::jit::Module ScriptedModel::export_plain() const {
  auto out = script::detail::detached_clone(plain_);
  const auto params = module_.named_parameters(/*recurse=*/true);
  const auto buffers = module_.named_buffers(/*recurse=*/true);
  auto target_params = out.named_parameters(/*recurse=*/true);
  auto target_buffers = out.named_buffers(/*recurse=*/true);
  torch::NoGradGuard no_grad;
  // Same module tree, same order: the converted module is a clone of plain_.
  auto copy = [](const auto& from, const auto& to) {
    auto source = from.begin();
    for (const auto& target : to) {
      target.value.copy_((*source).value);
      ++source;
    }
  };
  copy(params, target_params);
  copy(buffers, target_buffers);
  out.train(module_.is_training());
  return out;
}

void ScriptedModel::save(const std::string& path) const {
  write_atomically(path, [&](const std::string& temporary) { export_plain().save(temporary); });
}

}  // namespace replicascope
