// SPDX-License-Identifier: MIT
// How much memory this process can still have, and how much a piece of work allocates: so that
// work that cannot fit (a batch, a data set) is refused before it starts, with the arithmetic,
// rather than failing half-way with an allocator's error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace replicascope {

// "78 KB", "21.3 GB": decimal units (1 KB = 1000 bytes), as messages say sizes.
std::string bytes_text(double bytes);

// A bound on the memory this process can still allocate, and what sets it.
struct MemoryBound {
  double bytes = -1;   // < 0: no bound is known
  std::string source;  // "MemAvailable", "RLIMIT_AS", "the cgroup's memory.max"
  bool known() const { return bytes >= 0; }
};

// What the bounds are read from, each text as the kernel writes it ("" where absent).
struct MemorySources {
  std::string meminfo;              // /proc/meminfo: its MemAvailable
  std::string self_status;          // /proc/self/status: its VmSize, what RLIMIT_AS counts
  double address_space_limit = -1;  // RLIMIT_AS's soft limit in bytes; < 0: unlimited
  std::string cgroup_max;           // memory.max (v2) or memory.limit_in_bytes (v1), or "max"
  std::string cgroup_current;       // memory.current (v2) or memory.usage_in_bytes (v1)
};

// A "Name:   123 kB" field of /proc/meminfo or /proc/self/status, in bytes; < 0 when absent.
double proc_field_bytes(const std::string& text, const std::string& name);

// The tightest of the bounds `sources` give: MemAvailable; RLIMIT_AS less the VmSize already
// mapped; the cgroup's limit less its usage. Unknown (bytes < 0) when none is given.
MemoryBound tightest_memory_bound(const MemorySources& sources);

// This process's sources: /proc/meminfo, /proc/self/status, getrlimit(RLIMIT_AS) and its
// cgroup's files (v2, else v1) under /sys/fs/cgroup.
MemorySources read_memory_sources();

// tightest_memory_bound(read_memory_sources()).
MemoryBound memory_this_process_can_have();

// The most LibTorch's CPU allocator held at once for what the constructing thread (and the
// tasks it launches) allocated while the meter lived, and what of it is held now; through the
// allocator's profiling hook, which the autograd profiler uses too (it is off on this thread
// while a meter lives). Free what was allocated under the meter before it ends where you can:
// the allocator keeps a note of each such allocation until it is freed under a meter. Memory
// allocated before the meter and freed during its life is not counted at all (LibTorch logs a
// warning for the first such free).
class CpuAllocationMeter {
 public:
  CpuAllocationMeter();
  ~CpuAllocationMeter();
  CpuAllocationMeter(const CpuAllocationMeter&) = delete;
  CpuAllocationMeter& operator=(const CpuAllocationMeter&) = delete;
  int64_t peak_bytes() const;
  // What of it is still held now (allocated and not freed since the meter began).
  int64_t held_bytes() const;

 private:
  struct Counter;
  struct Scope;
  std::shared_ptr<Counter> counter_;
  std::unique_ptr<Scope> scope_;
};

}  // namespace replicascope
