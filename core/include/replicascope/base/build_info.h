// SPDX-License-Identifier: MIT
// What this build is, for About boxes and bug reports: its version, the LibTorch it was built
// with, and how (build type, compiler, CUDA and NCCL or not).
#pragma once

#include <string>

namespace replicascope {

std::string replicascope_version();  // "0.1.0"
std::string libtorch_version();      // "1.13.0"
// "Release, GCC 12.2.0, CPU only" / "..., CUDA 12.4, NCCL".
std::string build_description();

}  // namespace replicascope
