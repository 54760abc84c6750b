// SPDX-License-Identifier: MIT
// FutureResult: a one-slot mailbox that one thread fills and another waits on, with a deadline
// and error delivery. The C++ counterpart of the Python original's FutureResult.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <utility>

#include "replicascope/sync/spin_wait.h"

namespace replicascope::sync {

template <class T>
class FutureResult {
 public:
  using Clock = std::chrono::steady_clock;

  // Fills the slot (a second put before a get replaces the first value).
  void put(T value) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      value_ = std::move(value);
      ready_.store(true, std::memory_order_release);
    }
    cv_.notify_one();
  }

  // Makes the pending or next get() throw `error` (once).
  void set_error(std::exception_ptr error) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::move(error);
      ready_.store(true, std::memory_order_release);
    }
    cv_.notify_one();
  }

  // Waits for a value or an error until `deadline`; empties the slot. Returns nullopt on
  // timeout, rethrows an error given to set_error. A value that was delivered wins over an error
  // that came after it: the result was complete before whatever failed later.
  std::optional<T> get(Clock::time_point deadline) {
    spin_until([&] { return ready_.load(std::memory_order_acquire); });
    std::unique_lock<std::mutex> lock(mutex_);
    if (!cv_.wait_until(lock, deadline, [&] { return value_.has_value() || error_; })) {
      return std::nullopt;
    }
    if (value_) {
      ready_.store(error_ != nullptr, std::memory_order_relaxed);
      return std::exchange(value_, std::nullopt);
    }
    ready_.store(false, std::memory_order_relaxed);
    std::rethrow_exception(std::exchange(error_, nullptr));
  }

  // Drops a value or error nobody collected.
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    value_.reset();
    error_ = nullptr;
    ready_.store(false, std::memory_order_relaxed);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<T> value_;
  std::exception_ptr error_;
  std::atomic<bool> ready_{false};  // a value or an error is waiting: lets get() spin lock-free
};

}  // namespace replicascope::sync
