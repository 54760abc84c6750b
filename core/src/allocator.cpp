#include "replicascope/allocator.h"

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace replicascope {

void keep_freed_memory_mapped() {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return;
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);  // glibc's largest allowed value
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace replicascope
