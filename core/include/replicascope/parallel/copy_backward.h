// SPDX-License-Identifier: MIT
// What a layer's backward node needs to know of the parallel backward (parallel_backward.h):
// the interfaces gather's node looks for in a copy's graph, the one copy-order sum, and which
// copy the calling thread runs. nn's synchronized layer implements them; parallel/ runs them.
#pragma once

#include <torch/types.h>

#include <exception>
#include <vector>

namespace replicascope {

// A node of one copy's backward graph that meets the other copies' (a synchronized layer's
// backward rendezvous). When a copy's backward is over, gather's node ends the step of every
// such node in that copy's graph, once per key, with the copy's error if it failed: copies
// waiting for it then fail at once instead of at their timeout.
class CopyBackwardStep {
 public:
  virtual ~CopyBackwardStep() = default;
  // Nodes with the same key share one step (a layer called twice in one copy's forward); null:
  // this node waits for no one.
  virtual const void* backward_step_key() const = 0;
  virtual void end_backward_step(std::exception_ptr error) = 0;
};

// A node whose backward only adds up its inputs (the replicas' link to an original parameter,
// one input per copy). gather's node adds the copies' gradients for such a node itself, in copy
// order, spread over the copy threads, and hands it the sum alone: the sum is then done in
// parallel rather than on the caller's thread after every copy.
class SumsItsInputs {
 public:
  virtual ~SumsItsInputs() = default;
};

// The defined ones of `values` added up on `device` in their order (copy order), left to right:
// the one sum behind every cross-copy reduction in backward, so that all give the same bits.
// Undefined when none is defined.
torch::Tensor sum_in_copy_order(const std::vector<torch::Tensor>& values,
                                const torch::Device& device);

// The copy whose backward the calling thread runs for gather's node, or -1 on any other thread.
int current_backward_copy();

namespace detail {
// While alive, current_backward_copy() on this thread answers `copy` (gather's node, per copy).
class BackwardCopyScope {
 public:
  explicit BackwardCopyScope(int copy);
  ~BackwardCopyScope();
  BackwardCopyScope(const BackwardCopyScope&) = delete;
  BackwardCopyScope& operator=(const BackwardCopyScope&) = delete;

 private:
  int previous_;
};
}  // namespace detail

}  // namespace replicascope
