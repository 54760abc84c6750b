// SPDX-License-Identifier: MIT
// Process-wide memory allocator tuning for ReplicaScope's programs.
#pragma once

namespace replicascope {

// Makes glibc's malloc keep freed memory mapped (allocations up to 32 MiB from the heap rather
// than fresh mmaps, no trimming, no unmapping of the copy threads' emptied heaps), so that a
// training step reuses the previous step's pages instead of faulting in new ones. On the 2-core VMs
// measured here page faults cost a resnet18 step 4x its compute (docs/benchmarks.md). Programs call
// it first thing in main(); a library should not, since it changes the whole process. No-op without
// glibc, and where the environment already sets MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or
// MALLOC_TOP_PAD_.
void keep_freed_memory_mapped();

}  // namespace replicascope
