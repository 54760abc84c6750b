// SPDX-License-Identifier: MIT
// Processes that synchronize over c10d, PyTorch's own distributed engine: a Gloo process group
// (CPU), or NCCL (GPU, where LibTorch has CUDA), joined through a TCPStore, with torchrun's
// environment conventions. No c10d header leaks out of here: users see ranks, sizes and a few
// collectives, which take tensors on any device.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace replicascope::dist {

class DistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where this process stands, from torchrun's variables: RANK, WORLD_SIZE, LOCAL_RANK (optional,
// default RANK), MASTER_ADDR, MASTER_PORT.
struct Environment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr;
  int master_port = 0;
  // Reads them; throws DistError naming a variable that is missing or malformed, what it holds
  // and what was expected.
  static Environment from_environment();
  // True when WORLD_SIZE is set: the process was started by torchrun or `launch`.
  static bool present();
};

// A TCP port on 127.0.0.1 that nothing listens on now (for MASTER_PORT on one machine); 29500,
// torchrun's default, if the system will not say.
int free_local_port();

enum class Backend {
  kGloo,  // CPU tensors, any machine
  kNccl,  // GPU tensors; each rank uses the GPU LOCAL_RANK modulo the visible GPUs
};

// What every rank must agree on, as (name, value) pairs: "--batch", "32".
using Settings = std::vector<std::pair<std::string, std::string>>;

class ProcessGroup {
 public:
  // Joins the group (rank 0 serves the TCPStore at MASTER_ADDR:MASTER_PORT); every rank waits for
  // the others up to `timeout`, which also bounds every collective. Before any collective, the
  // ranks compare their WORLD_SIZE and `settings`: a difference fails every rank with a
  // DistError naming the setting and the ranks' values. Throws DistError, also for kNccl in a
  // build without it (see has_nccl()).
  static std::shared_ptr<ProcessGroup> join(const Environment& env,
                                            std::chrono::milliseconds timeout,
                                            Backend backend = Backend::kGloo,
                                            const Settings& settings = {});
  // Whether this build has the NCCL backend (LibTorch with CUDA, and nccl.h at build time).
  static bool has_nccl();
  ~ProcessGroup();

  int rank() const { return rank_; }
  int size() const { return size_; }
  const std::string& backend_name() const;
  std::chrono::milliseconds timeout() const { return timeout_; }

  // Sums `values` (contiguous) over every process, in place. `what` names the collective in
  // errors ("layer 'features.1', sync point 0, backward"). Tensors on another device than the
  // backend's (the CPU for Gloo, this rank's GPU for NCCL) travel there and back.
  void all_reduce_sum(torch::Tensor& values, const std::string& what);
  // Every process's `values` (the same shape on each), in rank order.
  std::vector<torch::Tensor> all_gather(const torch::Tensor& values, const std::string& what);
  void barrier(const std::string& what);

  // Starts summing `values` (contiguous; kept alive until done) over every process and
  // returns at once; the returned function waits for the sum (throwing DistError like the
  // others). These run on a second Gloo group of their own: collectives pair up by the order in
  // which each process calls them, and gradient buckets started from inside backward must never
  // pair with a synchronized layer's collective that another process happened to call first.
  using Wait = std::function<void()>;
  Wait start_gradient_sum(torch::Tensor values, const std::string& what);

  // The backend, private to core/src/dist (backend.h).
  struct Impl;

 private:
  ProcessGroup(std::unique_ptr<Impl> impl, int rank, int size, std::chrono::milliseconds timeout);
  // Inside a catch block: rethrows the error in flight as a DistError naming `what`.
  [[noreturn]] void fail(const std::string& what) const;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0, size_ = 1;
  std::chrono::milliseconds timeout_;
};

}  // namespace replicascope::dist
