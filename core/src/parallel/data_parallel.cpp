// SPDX-License-Identifier: MIT
#include "replicascope/parallel/data_parallel.h"

#include <torch/torch.h>

#include "replicascope/parallel/parallel_backward.h"

namespace replicascope {

RankShare rank_share(const std::vector<int64_t>& parts, int rank, size_t copies) {
  const auto first = static_cast<size_t>(rank) * copies;
  RankShare share;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i < first) {
      share.offset += parts[i];
    } else if (i < first + copies) {
      share.size += parts[i];
      share.copies.push_back(parts[i]);
    }
  }
  return share;
}

std::vector<int64_t> split_sizes(int64_t total, size_t parts) {
  if (parts == 0) throw std::invalid_argument("split_sizes: expected at least one part");
  std::vector<int64_t> sizes(parts, total / static_cast<int64_t>(parts));
  for (int64_t i = 0; i < total % static_cast<int64_t>(parts); ++i) ++sizes[i];
  return sizes;
}

void require_sample_per_copy(const std::string& who, int64_t batch, size_t copies,
                             int64_t processes) {
  if (batch >= processes * static_cast<int64_t>(copies)) return;
  throw std::invalid_argument(
      who + ": a batch of " + std::to_string(batch) + " cannot feed " + std::to_string(copies) +
      " copies" +
      (processes > 1 ? " on each of " + std::to_string(processes) + " processes" : std::string()) +
      "; expected at least one sample per copy");
}

ScatterPlan plan_scatter(const torch::Tensor& input, const DataParallelOptions& options) {
  if (!input.defined() || input.dim() == 0 || options.dim() < 0 || options.dim() >= input.dim()) {
    throw std::invalid_argument(
        "DataParallelWithCallback: expected an input with a batch dimension " +
        std::to_string(options.dim()) + ", got " +
        (input.defined() ? std::to_string(input.dim()) + "-dimensional input"
                         : std::string("an undefined tensor")));
  }
  ScatterPlan plan;
  const int64_t batch = input.size(options.dim());
  auto sizes = options.chunk_sizes();
  if (sizes.empty()) sizes = split_sizes(batch, options.devices().size());
  int64_t total = 0;
  for (auto size : sizes) total += size < 0 ? batch + 1 : size;  // a negative size never fits
  if (sizes.size() != options.devices().size() || total != batch) {
    throw std::invalid_argument(
        "DataParallelWithCallback: chunk_sizes must have one entry per "
        "device (" +
        std::to_string(options.devices().size()) + ") and add up to the batch (" +
        std::to_string(batch) + ")");
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == 0 && options.empty_copies() == EmptyCopies::kDrop && i > 0) continue;
    plan.devices.push_back(options.devices()[i]);
    plan.sizes.push_back(sizes[i]);
  }
  return plan;
}

std::vector<torch::Tensor> scatter(const torch::Tensor& input, const ScatterPlan& plan,
                                   int64_t dim) {
  auto chunks = input.split_with_sizes(plan.sizes, dim);
  for (size_t i = 0; i < chunks.size(); ++i) chunks[i] = chunks[i].to(plan.devices[i]);
  return chunks;
}

torch::Tensor gather(const std::vector<torch::Tensor>& outputs, const torch::Device& device,
                     int64_t dim) {
  return gather_with_parallel_backward(outputs, device, dim);
}

}  // namespace replicascope
