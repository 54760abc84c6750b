// SPDX-License-Identifier: MIT
// Device lists as users write them.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace replicascope {

// Parses a device list:
//   "cpu"          one copy on the CPU
//   "cpu:N"        N copies on the CPU, each on its own thread (N copies, not CPU number N)
//   "cuda"         one copy per visible CUDA device
//   "cuda:0,1,3"   the listed CUDA devices
// Throws std::invalid_argument with what was expected and given, and for CUDA when LibTorch has
// no CUDA or a listed device is not there.
std::vector<torch::Device> parse_devices(const std::string& spec);

// The inverse of parse_devices for lists it can produce ("cpu:4", "cuda:0,1"); other lists are
// written out one device at a time.
std::string format_devices(const std::vector<torch::Device>& devices);

}  // namespace replicascope
