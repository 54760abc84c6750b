// SPDX-License-Identifier: MIT
// Threads kept for the copies between steps. A thread of its own per copy is what lets copies meet
// at a rendezvous, but a new thread per step costs more than the work it takes on: measured with
// resnet18 (batch 8 per copy, forward and backward), two copies on a new thread each step took
// 1.28x the time of the same two run one after another on one thread, while two kept threads
// took 0.63x (measured in Python with TorchScript: the first use of a thread builds per-thread
// state in the allocator and the kernels' libraries, and its memory is touched anew).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace replicascope::detail {

class CopyWorker {
 public:
  CopyWorker();
  // Runs `task` on this worker's thread; the worker must be idle (leased by one caller).
  void post(std::function<void()> task);

 private:
  void loop();
  std::mutex mutex_;
  std::condition_variable wake_;
  std::function<void()> task_;
  std::thread thread_;  // last: starts once the members above exist
};

// Leases idle workers, making new ones when none is idle; workers are never shared between two
// callers at once, so concurrent or nested callers cannot wait for each other. The most
// recently returned workers are leased first, so a training loop finds its copies' threads
// again (with their warm per-thread state) step after step.
class CopyWorkers {
 public:
  static CopyWorkers& instance();
  std::vector<CopyWorker*> lease(size_t count);
  void give_back(const std::vector<CopyWorker*>& workers);

 private:
  std::mutex mutex_;
  std::vector<CopyWorker*> idle_;  // workers live as long as the process
};

// Counts finished tasks; wait() returns when `count` have finished.
class Latch {
 public:
  explicit Latch(size_t count) : left_(count) {}
  void count_down();
  void wait();

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  size_t left_;
};

}  // namespace replicascope::detail
