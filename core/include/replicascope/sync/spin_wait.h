// SPDX-License-Identifier: MIT
// A bounded spin before blocking: a handoff between copies takes a few microseconds when the
// partner is already running, while blocking on a futex and being woken costs tens.
#pragma once

#include <chrono>
#include <thread>

namespace replicascope::sync {

// How long a waiter spins (yielding the CPU to other runnable threads, as there may be more
// copies than cores) before it blocks. In real models copies reach a sync point a few hundred
// microseconds apart, and a futex wake-up costs about as much again on a loaded VM. Measured
// here, in one run (docs/benchmarks.md has the spread): the demo's training step with
// synchronized against unsynchronized BN went from 1.13x / 1.09x (2 / 4 copies) at 50 us to
// 1.00x / 1.02x at 150 us; the bare sync-point latency did not change measurably.
constexpr std::chrono::microseconds kSpinBudget{150};

// Returns true as soon as ready() holds, false once the budget is spent.
template <class Ready>
bool spin_until(Ready ready, std::chrono::microseconds budget = kSpinBudget) {
  const auto start = std::chrono::steady_clock::now();
  for (unsigned i = 1;; ++i) {
    if (ready()) return true;
    if ((i & 15) == 0 && std::chrono::steady_clock::now() - start > budget) return false;
    std::this_thread::yield();
  }
}

}  // namespace replicascope::sync
