// SPDX-License-Identifier: MIT
#include "replicascope/dist/gradient_reducer.h"

#include <torch/torch.h>

namespace replicascope::dist {

GradientReducer::GradientReducer(std::vector<torch::Tensor> parameters,
                                 std::shared_ptr<ProcessGroup> group,
                                 GradientReducerOptions options)
    : parameters_(std::move(parameters)), group_(std::move(group)), options_(options) {
  if (!group_) throw std::invalid_argument("GradientReducer: expected a process group");
  bucket_of_.resize(parameters_.size());
  offset_of_.resize(parameters_.size());
  arrived_.assign(parameters_.size(), false);
  int64_t bytes = 0, elements = 0;
  auto close_bucket = [&] {
    if (buckets_.empty() || buckets_.back().parameters.empty()) return;
    buckets_.back().flat = torch::zeros(
        {elements}, torch::TensorOptions().dtype(
                        parameters_[buckets_.back().parameters.front()].scalar_type()));
  };
  for (size_t k = parameters_.size(); k-- > 0;) {
    const auto& p = parameters_[k];
    if (!p.requires_grad()) {
      throw std::invalid_argument("GradientReducer: parameter " + std::to_string(k) +
                                  " does not require a gradient");
    }
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    const int64_t cap = buckets_.size() <= 1 ? options_.first_bucket_bytes : options_.bucket_bytes;
    // A new bucket when this one is full or the dtype changes (one flat tensor per bucket).
    if (buckets_.empty() || bytes + size > cap ||
        parameters_[buckets_.back().parameters.front()].scalar_type() != p.scalar_type()) {
      close_bucket();
      buckets_.emplace_back();
      bytes = elements = 0;
    }
    bucket_of_[k] = buckets_.size() - 1;
    offset_of_[k] = static_cast<size_t>(elements);
    buckets_.back().parameters.push_back(k);
    bytes += size;
    elements += p.numel();
  }
  close_bucket();
  reset();
  for (size_t k = 0; k < parameters_.size(); ++k) {
    hooks_.push_back(parameters_[k].register_hook(
        [this, k](const torch::Tensor& grad) { return on_gradient(k, grad); }));
  }
}

GradientReducer::~GradientReducer() {
  discard();
  for (size_t k = 0; k < parameters_.size(); ++k) parameters_[k].remove_hook(hooks_[k]);
}

void GradientReducer::reset() {
  for (auto& bucket : buckets_) {
    bucket.pending = bucket.parameters.size();
    bucket.wait = nullptr;
    bucket.flat.zero_();
  }
  std::fill(arrived_.begin(), arrived_.end(), false);
  next_to_start_ = 0;
}

torch::Tensor GradientReducer::on_gradient(size_t k, const torch::Tensor& grad) {
  if (!grad.defined()) return grad;
  torch::NoGradGuard no_grad;
  std::lock_guard<std::mutex> lock(mutex_);
  auto& bucket = buckets_[bucket_of_[k]];
  if (bucket.wait) {
    throw DistError("GradientReducer: parameter " + std::to_string(k) +
                    " got a second gradient in one backward after its bucket was sent; call "
                    "finish() after each backward");
  }
  auto slot = bucket.flat.slice(0, static_cast<int64_t>(offset_of_[k]),
                                static_cast<int64_t>(offset_of_[k]) + grad.numel());
  slot.add_(grad.reshape({-1}).to(torch::kCPU, bucket.flat.scalar_type()));
  if (!arrived_[k]) {
    arrived_[k] = true;
    --bucket.pending;
  }
  if (options_.overlap) start_ready_buckets();
  // The parameter's own gradient is left as it was: finish() adds the sum over processes.
  return torch::zeros_like(grad);
}

void GradientReducer::start_ready_buckets() {
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].pending == 0) {
    start(next_to_start_++);
  }
}

void GradientReducer::start(size_t b) {
  buckets_[b].wait =
      group_->start_gradient_sum(buckets_[b].flat, "gradient bucket " + std::to_string(b + 1) +
                                                       " of " + std::to_string(buckets_.size()));
}

void GradientReducer::finish() {
  torch::NoGradGuard no_grad;
  std::lock_guard<std::mutex> lock(mutex_);
  overlapped_ = next_to_start_;
  try {
    // Buckets with a parameter that got no gradient start now, still in order.
    while (next_to_start_ < buckets_.size()) start(next_to_start_++);
    for (auto& bucket : buckets_) {
      bucket.wait();
      for (size_t k : bucket.parameters) {
        auto& p = parameters_[k];
        const auto sum = bucket.flat
                             .slice(0, static_cast<int64_t>(offset_of_[k]),
                                    static_cast<int64_t>(offset_of_[k]) + p.numel())
                             .view(p.sizes())
                             .to(p.device(), p.scalar_type());
        if (p.grad().defined()) {
          p.mutable_grad().add_(sum);
        } else {
          p.mutable_grad() = sum.clone();
        }
      }
    }
  } catch (...) {
    drop_in_flight();
    throw;
  }
  reset();
}

void GradientReducer::discard() {
  std::lock_guard<std::mutex> lock(mutex_);
  drop_in_flight();
}

void GradientReducer::drop_in_flight() {
  // A sum still in flight keeps its buffer (its c10d work holds it); the bucket gets a new one,
  // so nothing waits on a rank that may be gone.
  for (auto& bucket : buckets_) {
    if (bucket.wait) bucket.flat = torch::zeros_like(bucket.flat);
  }
  reset();
}

}  // namespace replicascope::dist
