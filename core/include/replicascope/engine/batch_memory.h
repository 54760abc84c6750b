// SPDX-License-Identifier: MIT
// Whether a batch can fit in the memory this process can have, said before the first step with
// the arithmetic, instead of an allocator's error (or the kernel's OOM killer) mid-step.
#pragma once

#include <cstdint>

#include "replicascope/base/memory_limits.h"
#include "replicascope/engine/input_check.h"

namespace replicascope::engine {

// The backward's memory, as a multiple of what the forward kept for it: 1, a lower bound (the
// backward's own gradients and temporaries are not counted).
constexpr double kBackwardFactor = 1.0;

// What a step on `batch` samples needs at least: what the check's forward of a few samples kept
// for the backward (its graph's saved tensors and output, which scale with the batch), scaled to
// `batch`, x kBackwardFactor. Parameters, optimizer state and the data are not counted.
double batch_memory_bytes(const ForwardMemory& forward, int64_t batch);

// Throws UsageError, naming the arithmetic and the largest batch the estimate allows, when
// batch_memory_bytes exceeds `bound`. Never refuses when either is unknown. For CPU copies:
// the check's forward ran on the CPU.
void check_batch_fits_memory(const ForwardMemory& forward, int64_t batch, const MemoryBound& bound);

}  // namespace replicascope::engine
