// SPDX-License-Identifier: MIT
// The memory a process can have (from /proc/meminfo, RLIMIT_AS and its cgroup, given here as
// the kernel writes them) and the meter of what a forward allocates.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>

#include "replicascope/base/describe_error.h"
#include "replicascope/base/memory_limits.h"

namespace {

using namespace replicascope;

// /proc/meminfo as Linux 6.1 writes it (abridged).
const char* const kMeminfo =
    "MemTotal:       24567892 kB\n"
    "MemFree:        22101144 kB\n"
    "MemAvailable:   20803712 kB\n"
    "Buffers:           51200 kB\n"
    "SwapFree:              0 kB\n";

TEST(MemoryLimits, ReadsMemAvailableFromMeminfo) {
  EXPECT_DOUBLE_EQ(proc_field_bytes(kMeminfo, "MemAvailable"), 20803712.0 * 1024);
  EXPECT_DOUBLE_EQ(proc_field_bytes(kMeminfo, "MemTotal"), 24567892.0 * 1024);
  EXPECT_LT(proc_field_bytes(kMeminfo, "Available"), 0);  // a field's name, not a part of one
  EXPECT_LT(proc_field_bytes("", "MemAvailable"), 0);
  EXPECT_LT(proc_field_bytes("MemAvailable: garbage\n", "MemAvailable"), 0);

  MemorySources sources;
  sources.meminfo = kMeminfo;
  const auto bound = tightest_memory_bound(sources);
  EXPECT_DOUBLE_EQ(bound.bytes, 20803712.0 * 1024);
  EXPECT_EQ(bound.source, "MemAvailable");
  EXPECT_EQ(bytes_text(bound.bytes), "21.3 GB");
  EXPECT_FALSE(tightest_memory_bound({}).known());
}

TEST(MemoryLimits, TheTightestOfMemAvailableRlimitAndCgroupBounds) {
  MemorySources sources;
  sources.meminfo = kMeminfo;
  // ulimit -v 4000000 (KiB) with 1.5 GiB mapped already.
  sources.address_space_limit = 4000000.0 * 1024;
  sources.self_status = "Name:\treplicascope-cli\nVmPeak:\t 1600000 kB\nVmSize:\t 1572864 kB\n";
  auto bound = tightest_memory_bound(sources);
  EXPECT_DOUBLE_EQ(bound.bytes, (4000000.0 - 1572864.0) * 1024);
  EXPECT_EQ(bound.source, "RLIMIT_AS (ulimit -v)");
  // A cgroup v2 limit of 2 GB with 1.2 GB in use is tighter still.
  sources.cgroup_max = "2000000000\n";
  sources.cgroup_current = "1200000000\n";
  bound = tightest_memory_bound(sources);
  EXPECT_DOUBLE_EQ(bound.bytes, 800000000.0);
  EXPECT_EQ(bound.source, "the cgroup's memory limit");
  // "max" (v2) and v1's 2^63 rounded to a page are no limit.
  for (const char* none : {"max\n", "9223372036854771712\n", ""}) {
    sources.cgroup_max = none;
    EXPECT_EQ(tightest_memory_bound(sources).source, "RLIMIT_AS (ulimit -v)") << none;
  }
  // This machine's own sources give some bound (MemAvailable exists on every Linux since 3.14).
  EXPECT_TRUE(memory_this_process_can_have().known());
}

TEST(MemoryLimits, SizesAreSaidInDecimalUnits) {
  EXPECT_EQ(bytes_text(0), "0 bytes");
  EXPECT_EQ(bytes_text(999), "999 bytes");
  EXPECT_EQ(bytes_text(78400), "78.4 KB");
  EXPECT_EQ(bytes_text(38.1e9), "38.1 GB");
  EXPECT_EQ(bytes_text(614.4e9), "614 GB");
  EXPECT_EQ(bytes_text(3.2e12), "3.2 TB");
}

TEST(MemoryLimits, TheMeterSeesWhatThisThreadAllocatesAtItsPeakAndHolds) {
  const auto before = torch::ones({1000});  // allocated before the meter: not counted
  CpuAllocationMeter meter;
  {
    const auto a = torch::zeros({1000, 1000});  // 4 MB
    const auto b = a * a;                       // 4 MB more, both held
  }
  const auto c = torch::zeros({500, 1000});  // 2 MB, after both were freed
  EXPECT_EQ(meter.peak_bytes(), 8000000);
  EXPECT_EQ(meter.held_bytes(), 2000000);
  // What another thread allocates is not this thread's.
  std::thread([] { torch::zeros({4000, 1000}); }).join();
  EXPECT_EQ(meter.peak_bytes(), 8000000);
}

TEST(MemoryLimits, AFailedAllocationIsSaidWithoutItsBacktrace) {
  // 2^50 bytes: more than any machine here. LibTorch's enforce error appends its C++ backtrace
  // ("frame #0: ..." lines, 26 to 30 of them) without the "Exception raised from" line.
  try {
    torch::empty({int64_t{1} << 48}, torch::kFloat);
    GTEST_SKIP() << "an allocation of 1 PB succeeded";
  } catch (const std::exception&) {
    const auto what = describe(std::current_exception());
    EXPECT_NE(what.find("can't allocate memory"), std::string::npos) << what;
    EXPECT_EQ(what.find("frame #"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

}  // namespace
