// SPDX-License-Identifier: MIT
// The rendezvous on its own, with plain integers: no LibTorch work between sync points.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "replicascope/sync/future_result.h"
#include "replicascope/sync/sync_master.h"

namespace rs = replicascope::sync;
using namespace std::chrono_literals;

namespace {

using IntMaster = rs::SyncMaster<int, int>;

// A master whose reduction gives every copy the sum of all messages plus its own copy id.
std::shared_ptr<IntMaster> make_sum_master(std::chrono::milliseconds timeout = 60s) {
  return std::make_shared<IntMaster>(
      "sum",
      [](std::vector<int>& messages, int64_t) {
        int total = 0;
        for (int m : messages) total += m;
        std::vector<int> out;
        for (size_t i = 0; i < messages.size(); ++i) out.push_back(total + static_cast<int>(i));
        return out;
      },
      timeout);
}

struct Group {
  std::shared_ptr<IntMaster> master;
  std::vector<rs::SlavePipe<int, int>> pipes;  // index = copy id; pipes[0] unused
  explicit Group(int n, std::chrono::milliseconds timeout = 60s)
      : master(make_sum_master(timeout)), pipes(n) {
    for (int i = 1; i < n; ++i) pipes[i] = master->register_slave(i);
  }
  int run(int copy, int message) {
    return copy == 0 ? master->run_master(message) : pipes[copy].run_slave(message);
  }
  void leave(int copy, std::exception_ptr error = nullptr) {
    if (copy == 0) {
      master->leave(0, error);
    } else {
      pipes[copy].leave(error);
    }
  }
};

// Runs body(copy) on n threads and returns each copy's exception (or null).
std::vector<std::exception_ptr> on_threads(int n, const std::function<void(int)>& body) {
  std::vector<std::exception_ptr> errors(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      try {
        body(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  return errors;
}

}  // namespace

TEST(FutureResult, DeliversValueErrorAndTimeout) {
  rs::FutureResult<int> future;
  future.put(7);
  EXPECT_EQ(future.get(std::chrono::steady_clock::now() + 1s), 7);
  EXPECT_FALSE(future.get(std::chrono::steady_clock::now() + 10ms).has_value());
  future.set_error(std::make_exception_ptr(std::runtime_error("boom")));
  EXPECT_THROW(future.get(std::chrono::steady_clock::now() + 1s), std::runtime_error);
  std::thread producer([&] {
    std::this_thread::sleep_for(20ms);
    future.put(9);
  });
  EXPECT_EQ(future.get(std::chrono::steady_clock::now() + 10s), 9);
  producer.join();
}

TEST(SyncMaster, EveryCopyGetsItsOwnResult) {
  for (int n = 1; n <= 5; ++n) {
    Group group(n);
    std::vector<int> results(n);
    auto errors = on_threads(n, [&](int copy) { results[copy] = group.run(copy, copy * 10); });
    const int total = 10 * n * (n - 1) / 2;
    for (int i = 0; i < n; ++i) {
      ASSERT_FALSE(errors[i]) << replicascope::describe(errors[i]);
      EXPECT_EQ(results[i], total + i) << "n=" << n << " copy " << i;
    }
  }
}

// The Python original mixes messages and acknowledgements in one queue and breaks with three or
// more copies and no work between sync points. Every round's result must be that round's.
TEST(SyncMaster, StressWithoutWorkBetweenSyncPoints) {
  constexpr int kRounds = 100000;
  for (int n = 2; n <= 8; ++n) {
    Group group(n);
    std::atomic<int> wrong{0};
    auto errors = on_threads(n, [&](int copy) {
      for (int round = 0; round < kRounds; ++round) {
        // Each copy sends the round number, so a result from another round shows up.
        const int result = group.run(copy, round);
        if (result != round * n + copy) wrong.fetch_add(1);
      }
    });
    for (int i = 0; i < n; ++i)
      ASSERT_FALSE(errors[i]) << "n=" << n << ": " << replicascope::describe(errors[i]);
    EXPECT_EQ(wrong.load(), 0) << "n=" << n;
  }
}

TEST(SyncMaster, FailingCopyFailsEveryWaiterAndNextStepWorks) {
  constexpr int n = 4;
  Group group(n, 30s);
  for (int failing = 0; failing < n; ++failing) {
    const auto start = std::chrono::steady_clock::now();
    auto errors = on_threads(n, [&](int copy) {
      try {
        if (copy == failing) throw std::runtime_error("injected");
        group.run(copy, 1);
      } catch (...) {
        group.leave(copy, std::current_exception());
        throw;
      }
      group.leave(copy);
    });
    // Within a second, far below the 30 s timeout: the failure is delivered, not waited out.
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(errors[i]) << "copy " << i << " did not get an error";
      if (i == failing) continue;
      try {
        std::rethrow_exception(errors[i]);
      } catch (const rs::SyncError& e) {
        EXPECT_EQ(e.layer(), "sum");
        EXPECT_EQ(e.copy_id(), failing);
        EXPECT_EQ(e.sequence(), 0);
        EXPECT_NE(std::string(e.what()).find("injected"), std::string::npos) << e.what();
      }
    }
    // The next step, same group, succeeds.
    std::vector<int> results(n);
    auto next = on_threads(n, [&](int copy) {
      results[copy] = group.run(copy, 2);
      group.leave(copy);
    });
    for (int i = 0; i < n; ++i) {
      ASSERT_FALSE(next[i]) << replicascope::describe(next[i]);
      EXPECT_EQ(results[i], 2 * n + i);
    }
  }
}

TEST(SyncMaster, DifferentCallCountsAreAClearError) {
  constexpr int n = 3;
  Group group(n, 30s);
  for (int extra = 0; extra < n; ++extra) {  // copy `extra` calls twice, the others once
    auto errors = on_threads(n, [&](int copy) {
      try {
        group.run(copy, 1);
        if (copy == extra) group.run(copy, 1);
      } catch (...) {
        group.leave(copy, std::current_exception());
        throw;
      }
      group.leave(copy);
    });
    ASSERT_TRUE(errors[extra]);
    const auto what = replicascope::describe(errors[extra]);
    EXPECT_NE(what.find("different number of times"), std::string::npos) << what;
    EXPECT_NE(what.find("sync point 1"), std::string::npos) << what;
  }
}

TEST(SyncMaster, TimeoutFailsTheStepAndNamesTheMissingCopy) {
  constexpr int n = 3;
  Group group(n, 200ms);
  auto errors = on_threads(n, [&](int copy) {
    if (copy == 2) std::this_thread::sleep_for(800ms);
    try {
      group.run(copy, 1);
    } catch (...) {
      group.leave(copy, std::current_exception());
      throw;
    }
    group.leave(copy);
  });
  for (int i = 0; i < n; ++i) ASSERT_TRUE(errors[i]) << "copy " << i;
  const auto what = replicascope::describe(errors[0]);
  EXPECT_NE(what.find("timed out"), std::string::npos) << what;
  EXPECT_NE(what.find("copies 2"), std::string::npos) << what;
}

// A debugger pauses the master inside its reduction (the observer) for as long as the user
// looks: the slaves must wait past their timeout instead of failing the step.
TEST(SyncMaster, SlavesWaitPastTheTimeoutWhileTheMasterReduces) {
  constexpr int n = 3;
  auto master = std::make_shared<IntMaster>(
      "paused",
      [](std::vector<int>& messages, int64_t) {
        std::this_thread::sleep_for(700ms);  // 3.5 timeouts
        return std::vector<int>(messages.size(), 7);
      },
      200ms);
  std::vector<rs::SlavePipe<int, int>> pipes(n);
  for (int i = 1; i < n; ++i) pipes[i] = master->register_slave(i);
  std::vector<int> results(n, 0);
  auto errors = on_threads(n, [&](int copy) {
    results[copy] = copy == 0 ? master->run_master(1) : pipes[copy].run_slave(1);
    copy == 0 ? master->leave(0, nullptr) : pipes[copy].leave(nullptr);
  });
  for (int i = 0; i < n; ++i) {
    EXPECT_FALSE(errors[i]) << "copy " << i << ": " << replicascope::describe(errors[i]);
    EXPECT_EQ(results[i], 7) << "copy " << i;
  }
}

TEST(SyncMaster, ReductionErrorReachesEveryCopy) {
  auto master =
      std::make_shared<IntMaster>("bad", [](std::vector<int>&, int64_t) -> std::vector<int> {
        throw std::invalid_argument("cannot reduce");
      });
  auto pipe = master->register_slave(1);
  auto errors = on_threads(2, [&](int copy) {
    if (copy == 0) {
      master->run_master(1);
    } else {
      pipe.run_slave(1);
    }
  });
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(errors[i]);
    EXPECT_NE(replicascope::describe(errors[i]).find("cannot reduce"), std::string::npos);
  }
}

TEST(SyncMaster, RegistrationErrors) {
  auto master = make_sum_master();
  EXPECT_THROW(master->register_slave(0), std::invalid_argument);
  master->register_slave(2);
  EXPECT_THROW(master->register_slave(2), std::invalid_argument);
  // Copy 1 never registered: the first sync point says so instead of waiting for it.
  EXPECT_THROW(master->run_master(1), std::logic_error);
}
