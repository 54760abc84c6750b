// SPDX-License-Identifier: MIT
#include "copy_workers.h"

namespace replicascope::detail {

CopyWorker::CopyWorker() : thread_([this] { loop(); }) {
  thread_.detach();  // workers live until the process ends, waiting for work
}

void CopyWorker::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = std::move(task);
  }
  wake_.notify_one();
}

void CopyWorker::loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return static_cast<bool>(task_); });
      task = std::move(task_);
      task_ = nullptr;
    }
    task();  // tasks catch their own exceptions (run_copies)
  }
}

CopyWorkers& CopyWorkers::instance() {
  // Never destroyed: its workers may still be waiting when the process exits.
  static auto* workers = new CopyWorkers();
  return *workers;
}

std::vector<CopyWorker*> CopyWorkers::lease(size_t count) {
  std::vector<CopyWorker*> out;
  out.reserve(count);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    while (out.size() < count && !idle_.empty()) {
      out.push_back(idle_.back());
      idle_.pop_back();
    }
  }
  try {
    while (out.size() < count) out.push_back(new CopyWorker());
  } catch (...) {
    give_back(out);
    throw;
  }
  return out;
}

void CopyWorkers::give_back(const std::vector<CopyWorker*>& workers) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Reversed, so that the next lease hands out the same workers in the same order.
  idle_.insert(idle_.end(), workers.rbegin(), workers.rend());
}

void Latch::count_down() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (--left_ == 0) done_.notify_all();
}

void Latch::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return left_ == 0; });
}

}  // namespace replicascope::detail
