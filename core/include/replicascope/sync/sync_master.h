// SPDX-License-Identifier: MIT
// SyncMaster and SlavePipe: the rendezvous of one synchronized layer across its copies.
//
// The Python original shares one queue between the copies' messages and their acknowledgements;
// with three or more copies a fast copy's next message can land where the master waits for an
// acknowledgement. Here every copy has its own message slot and its own result slot, so nothing
// can interleave. A step is the span in which every copy calls the layer some number of times
// and then leaves (ReplicationCallback::data_parallel_step_end); a copy that leaves with fewer
// calls, or with an error, fails the step for everyone at once instead of leaving them waiting,
// and every wait has a deadline. When every copy has left, the step is over and the next one
// starts clean, with the same copies.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "replicascope/base/describe_error.h"
#include "replicascope/sync/future_result.h"
#include "replicascope/sync/spin_wait.h"
#include "replicascope/sync/sync_error.h"

namespace replicascope::sync {

template <class Msg, class Res>
class SlavePipe;

template <class Msg, class Res>
class SyncMaster : public std::enable_shared_from_this<SyncMaster<Msg, Res>> {
 public:
  using Clock = std::chrono::steady_clock;
  // Gets every copy's message (index = copy id) and the sync point's sequence number within the
  // step; returns every copy's result, same order. Runs on the master's thread, outside the lock.
  using Reducer = std::function<std::vector<Res>(std::vector<Msg>& messages, int64_t sync_point)>;

  SyncMaster(std::string layer, Reducer reduce,
             std::chrono::milliseconds timeout = default_timeout())
      : layer_(std::move(layer)), reduce_(std::move(reduce)), timeout_(timeout) {
    resize(1);
  }

  const std::string& layer() const { return layer_; }
  int num_copies() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(calls_.size());
  }
  void set_timeout(std::chrono::milliseconds timeout) {
    std::lock_guard<std::mutex> lock(mutex_);
    timeout_ = timeout;
  }

  // Registers copy `copy_id` (1, 2, ...) before the first sync point.
  SlavePipe<Msg, Res> register_slave(int copy_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (copy_id < 1) throw std::invalid_argument(where() + "slave copy ids start at 1");
    if (started_) throw std::logic_error(where() + "cannot register a copy after the first sync");
    if (static_cast<size_t>(copy_id) >= calls_.size()) resize(copy_id + 1);
    if (registered_[copy_id]) {
      throw std::invalid_argument(where() + "copy " + std::to_string(copy_id) +
                                  " registered twice");
    }
    registered_[copy_id] = true;
    return SlavePipe<Msg, Res>(this->shared_from_this(), copy_id);
  }

  // The master's (copy 0's) side of one sync point.
  Res run_master(Msg message) { return run(0, std::move(message)); }

  // Copy `copy_id` has finished its step, with `error` if it failed.
  void leave(int copy_id, std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (static_cast<size_t>(copy_id) >= calls_.size() || left_[copy_id]) return;
    left_[copy_id] = true;
    ++left_count_;
    if (error && !failure_) {
      fail(copy_id, calls_[copy_id],
           "copy " + std::to_string(copy_id) + " failed before reaching sync point " +
               std::to_string(calls_[copy_id]) + ": " + describe(error));
    }
    check_departures();
    if (left_count_ == static_cast<int>(calls_.size())) start_next_step();
    cv_.notify_all();
  }

 private:
  friend class SlavePipe<Msg, Res>;

  Res run(int copy, Msg message) {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto timeout = timeout_;
    const auto deadline = Clock::now() + timeout;
    const int64_t seq = deposit(lock, copy, std::move(message), deadline, timeout);
    if (copy != 0) return await_result(lock, copy, seq, deadline, timeout);
    auto messages = collect(lock, seq, deadline, timeout);
    return reduce_and_publish(lock, std::move(messages), seq);
  }

  // Puts `message` in the copy's slot for its next sync point; returns that point's sequence
  // number. Throws the step's failure, or a SyncError when the copy comes back too early.
  int64_t deposit(std::unique_lock<std::mutex>& lock, int copy, Msg message,
                  Clock::time_point deadline, std::chrono::milliseconds timeout) {
    if (static_cast<size_t>(copy) >= calls_.size()) {
      throw std::logic_error(where() + "copy " + std::to_string(copy) + " is not registered");
    }
    if (left_[copy] && !cv_.wait_until(lock, deadline, [&] { return !left_[copy]; })) {
      throw SyncError(layer_, copy, calls_[copy],
                      where() + "copy " + std::to_string(copy) +
                          " started a new step, but not every copy finished the previous one "
                          "within " +
                          std::to_string(timeout.count()) + " ms");
    }
    if (!started_) verify_registration();
    started_ = true;
    const int64_t seq = calls_[copy]++;
    if (failure_) std::rethrow_exception(failure_);

    slots_[copy] = std::move(message);
    ++filled_;
    round_done_.store(filled_ == static_cast<int>(calls_.size()), std::memory_order_release);
    check_departures();
    if (failure_) std::rethrow_exception(failure_);
    return seq;
  }

  // A slave's wait for the master's result of its sync point `seq`.
  Res await_result(std::unique_lock<std::mutex>& lock, int copy, int64_t seq,
                   Clock::time_point deadline, std::chrono::milliseconds timeout) {
    cv_.notify_all();
    lock.unlock();
    // A slave waits half a timeout longer than the master, so that while the master is alive
    // its error, which names the missing copies, comes first.
    auto wait_until = deadline + timeout / 2;
    for (;;) {
      auto result = results_[copy]->get(wait_until);  // throws the step's failure
      if (result) return std::move(*result);
      // A master that is still reducing is alive: its observer may be a debugger paused at a
      // breakpoint, which has no time limit.
      if (!reducing_.load(std::memory_order_acquire)) break;
      wait_until = Clock::now() + timeout;
    }
    lock.lock();
    fail(copy, seq,
         "copy " + std::to_string(copy) + " timed out after " +
             std::to_string((timeout + timeout / 2).count()) +
             " ms waiting for the master's result");
    std::rethrow_exception(failure_);
  }

  // The master's wait for every copy's message of sync point `seq`; empties the slots.
  std::vector<Msg> collect(std::unique_lock<std::mutex>& lock, int64_t seq,
                           Clock::time_point deadline, std::chrono::milliseconds timeout) {
    const int n = static_cast<int>(calls_.size());
    if (filled_ != n) {
      lock.unlock();
      spin_until([&] { return round_done_.load(std::memory_order_acquire); });
      lock.lock();
    }
    if (!cv_.wait_until(lock, deadline, [&] { return filled_ == n || failure_; })) {
      fail(missing_copy(), seq,
           "timed out after " + std::to_string(timeout.count()) + " ms waiting for copies " +
               missing_copies());
    }
    if (failure_) std::rethrow_exception(failure_);
    std::vector<Msg> messages;
    messages.reserve(n);
    for (auto& slot : slots_) messages.push_back(std::move(*slot)), slot.reset();
    filled_ = 0;
    round_done_.store(false, std::memory_order_relaxed);
    return messages;
  }

  // Reduces outside the lock, then hands every slave its result; returns the master's.
  Res reduce_and_publish(std::unique_lock<std::mutex>& lock, std::vector<Msg> messages,
                         int64_t seq) {
    const int n = static_cast<int>(messages.size());
    lock.unlock();
    std::vector<Res> results;
    // Cleared once the results are published (or the round failed), under the lock.
    reducing_.store(true, std::memory_order_release);
    struct ClearReducing {
      std::atomic<bool>& flag;
      ~ClearReducing() { flag.store(false, std::memory_order_release); }
    } clear_reducing{reducing_};
    try {
      results = reduce_(messages, seq);
      if (static_cast<int>(results.size()) != n) {
        throw std::logic_error("the reduction returned " + std::to_string(results.size()) +
                               " results for " + std::to_string(n) + " copies");
      }
    } catch (const SyncError&) {
      lock.lock();
      fail(std::current_exception());
      std::rethrow_exception(failure_);
    } catch (...) {
      lock.lock();
      fail(-1, seq, describe(std::current_exception()));
      std::rethrow_exception(failure_);
    }
    // Publish every result under the lock, so that a failure comes either before the round
    // (everyone gets the error) or after it (everyone gets this round's result first), never
    // between two copies' results.
    lock.lock();
    if (failure_) std::rethrow_exception(failure_);
    for (int i = 1; i < n; ++i) results_[i]->put(std::move(results[i]));
    return std::move(results[0]);
  }

  // A round is in progress (someone deposited) and a copy that has not deposited has left:
  // nobody will ever complete it, so fail it now.
  void check_departures() {
    if (failure_ || filled_ == 0) return;
    for (size_t j = 0; j < calls_.size(); ++j) {
      if (!slots_[j] && left_[j]) {
        int64_t waiting_at = 0;
        int waiting_copy = 0;
        for (size_t k = 0; k < calls_.size(); ++k) {
          if (slots_[k]) waiting_at = calls_[k] - 1, waiting_copy = static_cast<int>(k);
        }
        fail(static_cast<int>(j), waiting_at,
             "copies called it a different number of times in one step: copy " + std::to_string(j) +
                 " finished its step after " + std::to_string(calls_[j]) + " call(s), copy " +
                 std::to_string(waiting_copy) + " is at call " + std::to_string(waiting_at + 1));
        return;
      }
    }
  }

  void fail(int copy, int64_t seq, const std::string& reason) {
    fail(std::make_exception_ptr(SyncError(
        layer_, copy, seq, where() + "sync point " + std::to_string(seq) + ": " + reason)));
  }
  void fail(std::exception_ptr error) {
    if (!failure_) failure_ = std::move(error);
    round_done_.store(true, std::memory_order_release);  // stop the master's spin
    for (size_t i = 1; i < results_.size(); ++i) results_[i]->set_error(failure_);
    cv_.notify_all();
  }

  void start_next_step() {
    for (size_t i = 0; i < calls_.size(); ++i) {
      calls_[i] = 0;
      left_[i] = false;
      slots_[i].reset();
      results_[i]->clear();
    }
    left_count_ = 0;
    filled_ = 0;
    round_done_.store(false, std::memory_order_relaxed);
    failure_ = nullptr;
  }

  void verify_registration() const {
    for (size_t i = 1; i < registered_.size(); ++i) {
      if (!registered_[i]) {
        throw std::logic_error(where() + "copy " + std::to_string(i) + " of " +
                               std::to_string(registered_.size()) + " never registered");
      }
    }
  }

  int missing_copy() const {
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (!slots_[i]) return static_cast<int>(i);
    }
    return -1;
  }
  std::string missing_copies() const {
    std::string out;
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (!slots_[i]) out += (out.empty() ? "" : ", ") + std::to_string(i);
    }
    return out;
  }

  void resize(size_t n) {
    calls_.resize(n, 0);
    left_.resize(n, false);
    registered_.resize(n, false);
    slots_.resize(n);
    while (results_.size() < n) results_.push_back(std::make_unique<FutureResult<Res>>());
  }

  std::string where() const { return "layer '" + layer_ + "': "; }
  const std::string layer_;
  const Reducer reduce_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::chrono::milliseconds timeout_;
  std::atomic<bool> reducing_{false};  // the master is in reduce_ (and its observer)
  bool started_ = false;
  std::vector<int64_t> calls_;  // sync calls each copy made in this step
  std::vector<bool> left_;      // copies that have ended this step
  std::vector<bool> registered_;
  std::vector<std::optional<Msg>> slots_;                    // this round's message of each copy
  std::vector<std::unique_ptr<FutureResult<Res>>> results_;  // each slave's result slot
  int filled_ = 0;
  // Every slot is filled (or the step failed): what the master spins on.
  std::atomic<bool> round_done_{false};
  int left_count_ = 0;
  std::exception_ptr failure_;  // set once the step failed; every later call rethrows it
};

// A slave copy's handle on its layer's SyncMaster.
template <class Msg, class Res>
class SlavePipe {
 public:
  SlavePipe() = default;
  int copy_id() const { return copy_id_; }
  explicit operator bool() const { return master_ != nullptr; }

  Res run_slave(Msg message) { return master_->run(copy_id_, std::move(message)); }
  void leave(std::exception_ptr error) { master_->leave(copy_id_, std::move(error)); }

 private:
  friend class SyncMaster<Msg, Res>;
  SlavePipe(std::shared_ptr<SyncMaster<Msg, Res>> master, int copy_id)
      : master_(std::move(master)), copy_id_(copy_id) {}

  std::shared_ptr<SyncMaster<Msg, Res>> master_;
  int copy_id_ = 0;
};

}  // namespace replicascope::sync
