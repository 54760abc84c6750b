// FutureResult: a one-slot mailbox that one thread fills and another waits on, with a deadline
// and error delivery. The C++ counterpart of the Python original's FutureResult.
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <utility>

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
    }
    cv_.notify_one();
  }

  // Makes the pending or next get() throw `error` (once).
  void set_error(std::exception_ptr error) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::move(error);
    }
    cv_.notify_one();
  }

  // Waits for a value or an error until `deadline`; empties the slot. Returns nullopt on
  // timeout, rethrows an error given to set_error. A value that was delivered wins over an error
  // that came after it: the result was complete before whatever failed later.
  std::optional<T> get(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!cv_.wait_until(lock, deadline, [&] { return value_.has_value() || error_; })) {
      return std::nullopt;
    }
    if (value_) return std::exchange(value_, std::nullopt);
    std::rethrow_exception(std::exchange(error_, nullptr));
  }

  // Drops a value or error nobody collected.
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    value_.reset();
    error_ = nullptr;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<T> value_;
  std::exception_ptr error_;
};

}  // namespace replicascope::sync
