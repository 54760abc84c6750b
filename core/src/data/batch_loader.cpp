// SPDX-License-Identifier: MIT
// The shuffling batch loader, and its thread that reads the next batches of a dataset that reads
// files while the caller trains on this one.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "replicascope/data/dataset.h"

namespace replicascope::data {

// One thread that runs posted jobs in order.
class LoaderThread {
 public:
  LoaderThread() : thread_([this] { work(); }) {}
  ~LoaderThread() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  LoaderThread(const LoaderThread&) = delete;
  LoaderThread& operator=(const LoaderThread&) = delete;

  std::future<Batch> post(std::function<Batch()> job) {
    std::packaged_task<Batch()> task(std::move(job));
    auto result = task.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(task));
    }
    wake_.notify_one();
    return result;
  }

 private:
  void work() {
    // No at::set_num_threads(1) here: with OpenMP it also sets ATen's global default, which
    // threads started later (autograd's) would take. A batch's small resizes stay under ATen's
    // grain size and run on this thread alone anyway.
    for (;;) {
      std::packaged_task<Batch()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        // Stopping: the loader that waited for the rest is gone.
        if (stopping_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();  // an exception goes into the job's future
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<Batch()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts after the members it uses
};

BatchLoader::BatchLoader(const Dataset& dataset, int64_t batch_size, uint64_t seed, int64_t ahead)
    : dataset_(dataset),
      batch_size_(batch_size),
      seed_(seed),
      ahead_(ahead >= 0 ? ahead : (dataset.reads_files() ? kAheadWhenReading : 0)) {
  if (batch_size < 1 || batch_size > dataset.size()) {
    throw DataError("batch size " + std::to_string(batch_size) + ": expected 1 to " +
                    std::to_string(dataset.size()) + " (the samples in '" + dataset.name() + "')");
  }
  shuffle();
  if (ahead_ > 0) {
    thread_ = std::make_unique<LoaderThread>();
    fill();
  }
}

// The thread's jobs refer to dataset_, which outlives this loader; the thread finishes the job it
// is on and drops the rest.
BatchLoader::~BatchLoader() = default;

void BatchLoader::shuffle() {
  order_ = torch::randperm(dataset_.size(),
                           at::detail::createCPUGenerator(seed_ * 1000003 + epoch_), torch::kLong);
  position_ = 0;
}

BatchLoader::Planned BatchLoader::plan() {
  if (position_ + batch_size_ > dataset_.size()) {
    ++epoch_;
    shuffle();
  }
  Planned planned{order_.narrow(0, position_, batch_size_), epoch_};
  position_ += batch_size_;
  return planned;
}

void BatchLoader::fill() {
  while (static_cast<int64_t>(pending_.size()) < ahead_) {
    auto planned = plan();
    const Dataset* dataset = &dataset_;
    pending_.push_back({planned.epoch, thread_->post([dataset, indices = planned.indices] {
                          return dataset->get(indices);
                        })});
  }
}

namespace {
std::atomic<bool> sorts_by_label{false};

Batch sorted_if_asked(Batch batch) {
  if (!sorts_by_label.load(std::memory_order_relaxed)) return batch;
  const auto order = batch.labels.argsort();
  batch.images = batch.images.index_select(0, order);
  batch.labels = batch.labels.index_select(0, order);
  return batch;
}
}  // namespace

void testing::sort_batches_by_label(bool on) {
  sorts_by_label.store(on);
}

Batch BatchLoader::next() {
  if (!thread_) {
    auto planned = plan();
    served_epoch_ = planned.epoch;
    return sorted_if_asked(dataset_.get(planned.indices));
  }
  if (pending_.empty()) fill();
  auto front = std::move(pending_.front());
  pending_.pop_front();
  fill();  // the thread reads the next ones while the caller trains on this one
  served_epoch_ = front.epoch;
  return sorted_if_asked(front.batch.get());
}

void BatchLoader::reset() {
  // Batches read for the old order are dropped; whatever they threw with them.
  for (auto& pending : pending_) pending.batch.wait();
  pending_.clear();
  epoch_ = 0;
  served_epoch_ = 0;
  shuffle();
  if (thread_) fill();
}

}  // namespace replicascope::data
