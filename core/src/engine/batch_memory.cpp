// SPDX-License-Identifier: MIT
#include "replicascope/engine/batch_memory.h"

#include <cstdio>
#include <string>

#include "replicascope/base/usage.h"

namespace replicascope::engine {

double batch_memory_bytes(const ForwardMemory& forward, int64_t batch) {
  if (forward.samples < 1 || forward.kept_bytes <= 0) return 0;
  return static_cast<double>(forward.kept_bytes) / static_cast<double>(forward.samples) *
         static_cast<double>(batch) * kBackwardFactor;
}

void check_batch_fits_memory(const ForwardMemory& forward, int64_t batch,
                             const MemoryBound& bound) {
  const double needs = batch_memory_bytes(forward, batch);
  if (!bound.known() || needs <= bound.bytes) return;
  const double a_sample = needs / static_cast<double>(batch);
  char factor[16];
  std::snprintf(factor, sizeof(factor), "%.1f", kBackwardFactor);
  char scale[32];
  std::snprintf(scale, sizeof(scale), batch % forward.samples == 0 ? "%.0f" : "%.1f",
                static_cast<double>(batch) / static_cast<double>(forward.samples));
  throw UsageError("--batch " + std::to_string(batch) + ": a batch of " + std::to_string(batch) +
                   " needs at least " + bytes_text(needs) + " (" + std::to_string(forward.samples) +
                   " samples kept " + bytes_text(static_cast<double>(forward.kept_bytes)) +
                   " in the forward for the backward, x " + scale + ", x " + factor +
                   " for backward) but the process can have " + bytes_text(bound.bytes) + " (" +
                   bound.source + "); expected a --batch of at most " +
                   std::to_string(static_cast<int64_t>(bound.bytes / a_sample)));
}

}  // namespace replicascope::engine
