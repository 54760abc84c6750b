// SPDX-License-Identifier: MIT
// Runs one piece of work per copy, each copy on a thread of its own, and gathers their failures.
// Replication (replicate.h) and the parallel backward (parallel_backward.h) both use it.
#pragma once

#include <torch/types.h>

#include <exception>
#include <functional>
#include <stdexcept>
#include <vector>

namespace replicascope {

// The copies that failed in one parallel step, with every copy's own error.
class CopiesFailed : public std::runtime_error {
 public:
  explicit CopiesFailed(std::vector<std::exception_ptr> errors);
  // errors()[i] is copy i's exception, or null if copy i succeeded.
  const std::vector<std::exception_ptr>& errors() const { return errors_; }
  // The first error that is not a synchronization error (the root cause), else the first one.
  std::exception_ptr root_cause() const;

 private:
  std::vector<std::exception_ptr> errors_;
};

// Runs work(i) for every copy i, each on its own thread (copy 0 on the caller's), with the
// caller's thread-local state (grad mode, inference mode) and a device guard for devices[i].
// Throws CopiesFailed if any copy threw. Own threads, not at::parallel_for: with one intra-op
// thread, or inside a parallel region, parallel_for runs the copies one after another, and a
// rendezvous between them would deadlock.
void run_copies(const std::vector<torch::Device>& devices,
                const std::function<void(size_t copy)>& work);

// One step of every copy, each on its own thread (run_copies): outputs[i] = forward(i), then, on
// the same thread, end_step(i, error) with what forward threw (rethrown after) or null.
std::vector<torch::Tensor> run_copy_steps(
    const std::vector<torch::Device>& devices, const std::function<torch::Tensor(size_t)>& forward,
    const std::function<void(size_t, std::exception_ptr)>& end_step);

}  // namespace replicascope
