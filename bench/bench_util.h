// SPDX-License-Identifier: MIT
// Helpers for the benchmarks.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

namespace replicascope::bench {

// Runs body(copy) on `copies` threads at once and returns the wall time in seconds.
inline double time_on_threads(int copies, const std::function<void(int)>& body) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 1; i < copies; ++i) threads.emplace_back(body, i);
  body(0);
  for (auto& t : threads) t.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The median (the upper one for an even count); 0 for an empty list.
inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

}  // namespace replicascope::bench
