#include "replicascope/dist/gradient_reducer.h"

#include <torch/torch.h>

namespace replicascope::dist {

GradientReducer::GradientReducer(std::vector<torch::Tensor> parameters,
                                 std::shared_ptr<ProcessGroup> group, int64_t bucket_bytes)
    : parameters_(std::move(parameters)), group_(std::move(group)) {
  int64_t bytes = 0;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const auto& p = parameters_[i];
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    // A new bucket when this one is full or the dtype changes (one flat tensor per bucket).
    if (buckets_.empty() || bytes + size > bucket_bytes ||
        parameters_[buckets_.back().front()].scalar_type() != p.scalar_type()) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().push_back(i);
    bytes += size;
  }
}

void GradientReducer::reduce() {
  torch::NoGradGuard no_grad;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    std::vector<torch::Tensor> grads;
    for (size_t i : buckets_[b]) {
      auto& p = parameters_[i];
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      grads.push_back(p.grad().to(torch::kCPU).reshape({-1}));
    }
    auto flat = torch::cat(grads).contiguous();
    group_->all_reduce_sum(flat, "gradient bucket " + std::to_string(b + 1) + " of " +
                                     std::to_string(buckets_.size()));
    int64_t offset = 0;
    for (size_t i : buckets_[b]) {
      auto& p = parameters_[i];
      const int64_t n = p.numel();
      p.grad().copy_(flat.slice(0, offset, offset + n).view_as(p.grad()));
      offset += n;
    }
  }
}

}  // namespace replicascope::dist
