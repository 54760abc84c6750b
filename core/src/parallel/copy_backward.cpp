// SPDX-License-Identifier: MIT
#include "replicascope/parallel/copy_backward.h"

namespace replicascope {
namespace {
thread_local int backward_copy = -1;
}  // namespace

namespace detail {
BackwardCopyScope::BackwardCopyScope(int copy) : previous_(backward_copy) {
  backward_copy = copy;
}
BackwardCopyScope::~BackwardCopyScope() {
  backward_copy = previous_;
}
}  // namespace detail

torch::Tensor sum_in_copy_order(const std::vector<torch::Tensor>& values,
                                const torch::Device& device) {
  torch::Tensor total;
  for (const auto& value : values) {
    if (!value.defined()) continue;
    total = total.defined() ? total + value.to(device) : value.to(device);
  }
  return total;
}

int current_backward_copy() {
  return backward_copy;
}

}  // namespace replicascope
