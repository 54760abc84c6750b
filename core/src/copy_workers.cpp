#include "copy_workers.h"

#include "replicascope/sync/spin_wait.h"

namespace replicascope::detail {

CopyWorker::CopyWorker() : thread_([this] { loop(); }) {
  thread_.detach();  // workers live until the process ends, waiting for work
}

void CopyWorker::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = std::move(task);
    has_task_.store(true, std::memory_order_release);
  }
  wake_.notify_one();
}

void CopyWorker::loop() {
  for (;;) {
    sync::spin_until([&] { return has_task_.load(std::memory_order_acquire); });
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return has_task_.load(std::memory_order_relaxed); });
      task = std::move(task_);
      task_ = nullptr;
      has_task_.store(false, std::memory_order_relaxed);
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
  if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.notify_all();
}

void Latch::wait() {
  sync::spin_until([&] { return left_.load(std::memory_order_acquire) == 0; });
  // Taken even after a successful spin: the last count_down may still hold the mutex, and the
  // latch must outlive its unlock.
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return left_.load(std::memory_order_relaxed) == 0; });
}

}  // namespace replicascope::detail
