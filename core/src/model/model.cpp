// SPDX-License-Identifier: MIT
#include "replicascope/model/model.h"

#include <torch/torch.h>

#include <map>
#include <sstream>

namespace replicascope {
namespace {

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

// `to`'s tensors matched by name against `from`'s; throws before anything is copied.
std::vector<std::pair<torch::Tensor, torch::Tensor>> match(const NamedTensors& from,
                                                           const NamedTensors& to,
                                                           const char* what) {
  std::map<std::string, torch::Tensor> source(from.begin(), from.end());
  if (source.size() != to.size()) {
    throw std::invalid_argument("copy_state: the models have " + std::to_string(source.size()) +
                                " and " + std::to_string(to.size()) + " " + what);
  }
  std::vector<std::pair<torch::Tensor, torch::Tensor>> pairs;
  for (const auto& [name, target] : to) {
    auto it = source.find(name);
    if (it == source.end()) {
      throw std::invalid_argument(std::string("copy_state: ") + what + " '" + name +
                                  "' is missing in the source model");
    }
    if (it->second.defined() != target.defined() ||
        (target.defined() && !it->second.sizes().equals(target.sizes()))) {
      throw std::invalid_argument(std::string("copy_state: ") + what + " '" + name +
                                  "' has shape " + (target.defined() ? shape_of(target) : "none") +
                                  ", the source " +
                                  (it->second.defined() ? shape_of(it->second) : "none"));
    }
    if (target.defined()) pairs.emplace_back(it->second, target);
  }
  return pairs;
}

}  // namespace

void copy_state(const Model& from, Model& to) {
  auto params = match(from.named_parameters(), to.named_parameters(), "parameters");
  auto buffers = match(from.named_buffers(), to.named_buffers(), "buffers");
  torch::NoGradGuard no_grad;
  for (auto& [source, target] : params) target.copy_(source);
  for (auto& [source, target] : buffers) target.copy_(source);
}

torch::Tensor data_parallel_forward(ModelReplicas& replicas, const torch::Tensor& input,
                                    const std::vector<int64_t>& chunk_sizes,
                                    std::optional<torch::Device> output_device) {
  DataParallelOptions options(replicas.devices());
  // Every copy takes part in every step: a synchronized layer waits for all of them.
  options.empty_copies(EmptyCopies::kRun).chunk_sizes(chunk_sizes);
  const auto plan = plan_scatter(input, options);
  auto inputs = scatter(input, plan, /*dim=*/0);
  replicas.refresh();
  const auto outputs = run_copy_steps(
      plan.devices, [&](size_t i) { return replicas.forward(i, inputs[i]); },
      [&](size_t i, std::exception_ptr error) { replicas.end_step(i, std::move(error)); });
  return gather(outputs, output_device.value_or(replicas.devices().front()), /*dim=*/0);
}

}  // namespace replicascope
