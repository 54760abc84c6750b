// SPDX-License-Identifier: MIT
// DataParallelWithCallback: split a batch across copies, replicate with callbacks, run each copy
// on its own thread, gather.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "replicascope/parallel/replicate.h"

namespace replicascope {

// What to do with copies that get no samples (a batch smaller than the number of devices).
enum class EmptyCopies {
  kDrop,  // leave them out of this step, as PyTorch's scatter does (the default)
  kRun,   // run them on an empty batch; synchronized layers count them as contributing nothing
};

struct DataParallelOptions {
  /* implicit */ DataParallelOptions(std::vector<torch::Device> devices)
      : devices_(std::move(devices)) {}
  TORCH_ARG(std::vector<torch::Device>, devices);
  // Where the gathered output goes; unset: the first device.
  TORCH_ARG(std::optional<torch::Device>, output_device) = std::nullopt;
  // The dimension the batch is split and gathered along.
  TORCH_ARG(int64_t, dim) = 0;
  TORCH_ARG(EmptyCopies, empty_copies) = EmptyCopies::kDrop;
  // Samples per device; empty: split_sizes(). Must have one entry per device and add up to the
  // batch.
  TORCH_ARG(std::vector<int64_t>, chunk_sizes) = {};
};

// Split sizes for `total` samples over `parts` copies: as even as possible, the first copies
// taking the remainder (10 over 4: 3, 3, 2, 2; 3 over 4: 1, 1, 1, 0).
std::vector<int64_t> split_sizes(int64_t total, size_t parts);

// One process's part of a batch split over every process's copies (parts: split_sizes over
// processes x copies, ranks in order): where its rows start, how many, and each copy's.
struct RankShare {
  int64_t offset = 0, size = 0;
  std::vector<int64_t> copies;  // samples per copy
};
RankShare rank_share(const std::vector<int64_t>& parts, int rank, size_t copies);

// Throws std::invalid_argument, naming `who`, unless a batch of `batch` gives every one of
// `copies` copies on each of `processes` processes at least one sample.
void require_sample_per_copy(const std::string& who, int64_t batch, size_t copies,
                             int64_t processes = 1);

// One step's layout: the devices that take part and their chunk sizes.
struct ScatterPlan {
  std::vector<torch::Device> devices;
  std::vector<int64_t> sizes;
};
ScatterPlan plan_scatter(const torch::Tensor& input, const DataParallelOptions& options);

// Chunks of `input` along `dim` with the plan's sizes, each moved to its device (autograd-
// correct: gradients flow back to `input`).
std::vector<torch::Tensor> scatter(const torch::Tensor& input, const ScatterPlan& plan,
                                   int64_t dim);
// The copies' outputs concatenated along `dim` on `device` (autograd-correct). Its backward
// runs every copy's part of the graph on the copy's own thread (parallel_backward.h), which a
// synchronized layer's backward needs when there are several copies.
torch::Tensor gather(const std::vector<torch::Tensor>& outputs, const torch::Device& device,
                     int64_t dim);

template <class ModuleType>
class DataParallelWithCallback {
 public:
  DataParallelWithCallback(std::shared_ptr<ModuleType> module, DataParallelOptions options)
      : module_(std::move(module)), options_(std::move(options)) {
    if (!module_) throw std::invalid_argument("DataParallelWithCallback: expected a module");
    if (options_.devices().empty()) {
      throw std::invalid_argument("DataParallelWithCallback: expected at least one device");
    }
  }
  DataParallelWithCallback(torch::nn::ModuleHolder<ModuleType> holder, DataParallelOptions options)
      : DataParallelWithCallback(holder.ptr(), std::move(options)) {}

  // Scatter, replicate (callbacks included), run every copy on its own thread, gather. The
  // copies are made anew each step from the module's current parameters; backward() reaches the
  // module's own parameters, and synchronized layers update its running statistics.
  torch::Tensor forward(const torch::Tensor& input) {
    const auto plan = plan_scatter(input, options_);
    auto inputs = scatter(input, plan, options_.dim());
    auto replicas = replicate(module_, plan.devices);
    last_contexts_ = replicas.contexts;
    auto outputs = parallel_apply(replicas.copies, inputs, plan.devices);
    return gather(outputs, options_.output_device().value_or(options_.devices().front()),
                  options_.dim());
  }
  torch::Tensor operator()(const torch::Tensor& input) { return forward(input); }

  const std::shared_ptr<ModuleType>& module() const { return module_; }
  const DataParallelOptions& options() const { return options_; }
  // The callback contexts of the last step's replication (the replica-to-context wiring).
  const ContextList& last_contexts() const { return last_contexts_; }

 private:
  std::shared_ptr<ModuleType> module_;
  DataParallelOptions options_;
  ContextList last_contexts_;
};

}  // namespace replicascope
