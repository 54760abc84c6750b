// SPDX-License-Identifier: MIT
#include "replicascope/base/build_info.h"

#include <torch/cuda.h>
#include <torch/version.h>

namespace replicascope {

std::string replicascope_version() {
  return REPLICASCOPE_VERSION;
}

std::string libtorch_version() {
  return TORCH_VERSION;
}

std::string build_description() {
  std::string out = REPLICASCOPE_BUILD_TYPE;
  if (out.empty()) out = "no build type";
#if defined(__clang__)
  out += ", Clang " __clang_version__;
#elif defined(__GNUC__)
  out += ", GCC " __VERSION__;
#endif
  // Whether this LibTorch sees a GPU, at run time (a CPU build sees none).
  const auto gpus = torch::cuda::device_count();
  out += gpus > 0 ? ", CUDA: " + std::to_string(gpus) + " GPU(s)" : ", no CUDA device";
#ifdef REPLICASCOPE_HAVE_NCCL
  out += ", NCCL";
#endif
  return out;
}

}  // namespace replicascope
