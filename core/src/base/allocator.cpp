// SPDX-License-Identifier: MIT
#include "replicascope/base/allocator.h"

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace replicascope {

void keep_freed_memory_mapped() {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_") ||
      std::getenv("MALLOC_TOP_PAD_")) {
    return;
  }
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);  // glibc's largest allowed value
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  // The copy threads' own arenas ignore the trim threshold when a whole heap (64 MiB) falls
  // empty: glibc unmaps it unless the top pad is larger than a heap. Without this, one run in
  // two of resnet18 at 2 copies faulted 4x the pages and its backward took 150-230 ms, not 31.
  mallopt(M_TOP_PAD, 128 * 1024 * 1024);
#endif
}

}  // namespace replicascope
