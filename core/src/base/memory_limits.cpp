// SPDX-License-Identifier: MIT
#include "replicascope/base/memory_limits.h"

#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace replicascope {
namespace {

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return in ? out.str() : std::string();
}

// A cgroup file's number of bytes; < 0 for "max", nothing, or a v1 limit that means none
// (2^63 rounded down to a page).
double cgroup_bytes(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || value < 0 || value >= 1e18) return -1;
  return value;
}

// The folder of this process's memory cgroup: v2's unified hierarchy ("0::/path"), else v1's
// memory controller ("4:memory:/path"). A container sees its own cgroup as "/".
std::string cgroup_folder(bool& v2) {
  std::istringstream lines(file_text("/proc/self/cgroup"));
  for (std::string line; std::getline(lines, line);) {
    const auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const auto controllers = "," + line.substr(first + 1, second - first - 1) + ",";
    const auto path = line.substr(second + 1);
    if (line.compare(0, 3, "0::") == 0) {
      v2 = true;
      return "/sys/fs/cgroup" + path;
    }
    if (controllers.find(",memory,") != std::string::npos) {
      v2 = false;
      return "/sys/fs/cgroup/memory" + path;
    }
  }
  v2 = true;
  return "/sys/fs/cgroup";
}

}  // namespace

std::string bytes_text(double bytes) {
  static const char* const kUnits[] = {"bytes", "KB", "MB", "GB", "TB"};
  int unit = 0;
  while (unit < 4 && bytes >= 1000) bytes /= 1000, ++unit;
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 || bytes >= 100 ? "%.0f %s" : "%.1f %s", bytes,
                kUnits[unit]);
  return text;
}

double proc_field_bytes(const std::string& text, const std::string& name) {
  const auto key = name + ":";
  for (size_t at = 0; (at = text.find(key, at)) != std::string::npos; at += key.size()) {
    if (at != 0 && text[at - 1] != '\n') continue;
    char* end = nullptr;
    const double value = std::strtod(text.c_str() + at + key.size(), &end);
    if (end == text.c_str() + at + key.size()) return -1;
    const bool kilobytes = std::string(end, std::min<size_t>(3, std::strlen(end))) == " kB";
    return kilobytes ? value * 1024 : value;
  }
  return -1;
}

MemoryBound tightest_memory_bound(const MemorySources& sources) {
  MemoryBound bound;
  const auto offer = [&bound](double bytes, const char* source) {
    if (bytes < 0) return;
    if (!bound.known() || bytes < bound.bytes) bound = {bytes, source};
  };
  offer(proc_field_bytes(sources.meminfo, "MemAvailable"), "MemAvailable");
  if (sources.address_space_limit >= 0) {
    const double mapped = std::max(0.0, proc_field_bytes(sources.self_status, "VmSize"));
    offer(std::max(0.0, sources.address_space_limit - mapped), "RLIMIT_AS (ulimit -v)");
  }
  const double cgroup_max = cgroup_bytes(sources.cgroup_max);
  if (cgroup_max >= 0) {
    const double used = std::max(0.0, cgroup_bytes(sources.cgroup_current));
    offer(std::max(0.0, cgroup_max - used), "the cgroup's memory limit");
  }
  return bound;
}

MemorySources read_memory_sources() {
  MemorySources sources;
  sources.meminfo = file_text("/proc/meminfo");
  sources.self_status = file_text("/proc/self/status");
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    sources.address_space_limit = static_cast<double>(limit.rlim_cur);
  }
  bool v2 = true;
  const auto folder = cgroup_folder(v2);
  sources.cgroup_max = file_text(folder + (v2 ? "/memory.max" : "/memory.limit_in_bytes"));
  sources.cgroup_current = file_text(folder + (v2 ? "/memory.current" : "/memory.usage_in_bytes"));
  return sources;
}

MemoryBound memory_this_process_can_have() {
  return tightest_memory_bound(read_memory_sources());
}

// What the CPU allocator reports while profiling is on for this thread: each allocation's size,
// and each free (negative) of what was allocated meanwhile.
struct CpuAllocationMeter::Counter : c10::MemoryReportingInfoBase {
  std::atomic<int64_t> now{0}, peak{0};
  void reportMemoryUsage(void*, int64_t alloc_size, int64_t, int64_t, c10::Device device) override {
    if (!device.is_cpu()) return;
    const auto held = now += alloc_size;
    for (auto seen = peak.load(); held > seen && !peak.compare_exchange_weak(seen, held);) {
    }
  }
  bool memoryProfilingEnabled() const override { return true; }
};

struct CpuAllocationMeter::Scope {
  explicit Scope(std::shared_ptr<Counter> counter)
      : guard(c10::DebugInfoKind::PROFILER_STATE, std::move(counter)) {}
  c10::DebugInfoGuard guard;
};

CpuAllocationMeter::CpuAllocationMeter()
    : counter_(std::make_shared<Counter>()), scope_(std::make_unique<Scope>(counter_)) {}

CpuAllocationMeter::~CpuAllocationMeter() = default;

int64_t CpuAllocationMeter::peak_bytes() const {
  return counter_->peak.load();
}

int64_t CpuAllocationMeter::held_bytes() const {
  return counter_->now.load();
}

}  // namespace replicascope
