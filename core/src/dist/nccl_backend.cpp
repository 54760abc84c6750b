// SPDX-License-Identifier: MIT
// c10d's NCCL process group, built only where LibTorch has CUDA and nccl.h was found
// (core/CMakeLists.txt defines USE_C10D_NCCL for this file alone). Each rank uses the GPU
// LOCAL_RANK modulo the visible GPUs; ProcessGroup stages tensors there.
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <cstdlib>

#include "backend.h"

namespace replicascope::dist {

std::unique_ptr<ProcessGroup::Impl> make_nccl(c10::intrusive_ptr<c10d::Store> store,
                                              const Environment& env,
                                              std::chrono::milliseconds timeout) {
  const auto gpus = static_cast<int>(c10::cuda::device_count());
  if (gpus == 0) throw DistError("the NCCL backend needs a GPU, and none is visible");
  const auto index = static_cast<c10::DeviceIndex>(env.local_rank % gpus);
  c10::cuda::set_device(index);
  // A blocking wait makes wait(timeout) throw when a rank dies or stops calling, so that the
  // others fail with our error (naming rank and sync point) instead of hanging on the GPU.
  // Both names, for LibTorch before and after 2.2; a user's own setting wins.
  ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
  ::setenv("NCCL_BLOCKING_WAIT", "1", 0);
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  auto impl = std::make_unique<GroupPair<c10d::ProcessGroupNCCL>>(std::move(store), env.rank,
                                                                  env.world_size, options);
  impl->name = "nccl";
  impl->device = torch::Device(torch::kCUDA, index);
  return impl;
}

}  // namespace replicascope::dist
