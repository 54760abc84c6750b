// SPDX-License-Identifier: MIT
// A c10d process group behind the few calls ProcessGroup makes, so that Gloo (always built) and
// NCCL (built where LibTorch has CUDA) are one code path. Private to core/src/dist.
#pragma once

#include <torch/types.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "replicascope/dist/process_group.h"

namespace replicascope::dist {

struct ProcessGroup::Impl {
  virtual ~Impl() = default;
  // `gradients` picks the second group (see ProcessGroup::start_gradient_sum).
  virtual c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& tensors,
                                                   bool gradients) = 0;
  virtual c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& out,
                                                   std::vector<at::Tensor>& in) = 0;
  virtual c10::intrusive_ptr<c10d::Work> barrier() = 0;

  c10::intrusive_ptr<c10d::Store> store;
  std::string name;                   // "gloo", "nccl"
  torch::Device device{torch::kCPU};  // where the collectives' tensors must be
};

// The two groups of one backend class: c10d's Gloo and NCCL groups have the same calls, though
// not the same base class in every LibTorch version.
template <class Group>
struct GroupPair : ProcessGroup::Impl {
  c10::intrusive_ptr<Group> main, gradients;

  template <class Options>
  GroupPair(c10::intrusive_ptr<c10d::Store> shared, int rank, int size,
            const c10::intrusive_ptr<Options>& options) {
    store = std::move(shared);
    main = c10::make_intrusive<Group>(store, rank, size, options);
    gradients = c10::make_intrusive<Group>(
        c10::make_intrusive<c10d::PrefixStore>("gradients", store), rank, size, options);
  }
  c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& tensors,
                                           bool for_gradients) override {
    return (for_gradients ? gradients : main)->allreduce(tensors);
  }
  c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& out,
                                           std::vector<at::Tensor>& in) override {
    return main->allgather(out, in);
  }
  c10::intrusive_ptr<c10d::Work> barrier() override { return main->barrier(); }
};

// In nccl_backend.cpp, built where LibTorch has CUDA and nccl.h was found
// (REPLICASCOPE_HAVE_NCCL).
std::unique_ptr<ProcessGroup::Impl> make_nccl(c10::intrusive_ptr<c10d::Store> store,
                                              const Environment& env,
                                              std::chrono::milliseconds timeout);

}  // namespace replicascope::dist
