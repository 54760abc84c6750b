// SPDX-License-Identifier: MIT
// Every copy's backward on its own thread.
//
// LibTorch's autograd engine runs all CPU work of one backward on the thread that called it, so
// the copies' backwards would run one after another. gather() therefore gives the gathered
// output one autograd node (its backward runs inside the caller's backward()) that splits the
// gradient and runs each copy's own part of the graph on a thread of its own, then hands the
// engine the gradients where the copies' graphs meet what they share (the links to the original
// parameters, the scatter of the input); the engine goes on from there on the caller's thread,
// so the copies' parameter gradients are still summed in copy order.
#pragma once

#include <torch/types.h>

#include <vector>

#include "replicascope/parallel/copy_backward.h"

namespace replicascope {

// torch::cat of the copies' outputs moved to `device`, along `dim`. With several outputs that
// need a gradient (and grad mode on), its backward runs each copy's graph on its own thread,
// on the copy's device (the output's).
torch::Tensor gather_with_parallel_backward(const std::vector<torch::Tensor>& outputs,
                                            const torch::Device& device, int64_t dim);

}  // namespace replicascope
