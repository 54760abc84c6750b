// SPDX-License-Identifier: MIT
// Training sessions: determinism, breakpoints, synchronized against per-copy BatchNorm, stopping
// and carrying on, batches too small for the copies.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "replicascope/engine/breakpoints.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/engine/session.h"
#include "test_util.h"

namespace {

using namespace replicascope;
using replicascope::testing::demo_data;
using replicascope::testing::options;

TEST(Session, SameSeedGivesTheSameStatistics) {
  engine::Session a(engine::demo_model(), demo_data(), options(3, true));
  engine::Session b(engine::demo_model(), demo_data(), options(3, true));
  for (int i = 0; i < 3; ++i) {
    const auto x = a.step(), y = b.step();
    EXPECT_EQ(x.loss, y.loss);
    ASSERT_EQ(x.layers.size(), 3u);  // the demo's three synchronized layers, one call each
    ASSERT_EQ(x.layers.size(), y.layers.size());
    for (size_t l = 0; l < x.layers.size(); ++l) {
      EXPECT_EQ(x.layers[l].layer, y.layers[l].layer);
      EXPECT_EQ(x.layers[l].mean, y.layers[l].mean);
      EXPECT_EQ(x.layers[l].copies.size(), 3u);
      EXPECT_EQ(x.layers[l].copies[1].var, y.layers[l].copies[1].var);
    }
  }
  a.reset();
  EXPECT_EQ(a.steps_done(), 0);
  engine::Session c(engine::demo_model(), demo_data(), options(3, true));
  EXPECT_EQ(a.step().loss, c.step().loss);
}

// Pausing every copy at sync points changes nothing: the paused step equals an unpaused one.
TEST(Session, BreakpointsPauseEveryCopyAndChangeNothing) {
  engine::Session plain(engine::demo_model(), demo_data(), options(3, true));
  const auto expected = plain.step();
  ASSERT_EQ(expected.layers.size(), 3u);

  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> hits;
  std::vector<size_t> copies_at_hit;
  auto gate = std::make_shared<engine::BreakpointGate>([&](const nn::SyncEvent& event) {
    std::lock_guard<std::mutex> lock(mutex);
    hits.push_back(event.layer);
    copies_at_hit.push_back(event.copies.size());
    cv.notify_all();
  });
  gate->set_breakpoints({expected.layers[0].layer});
  engine::Session paused(engine::demo_model(), demo_data(), options(3, true));
  paused.set_sync_listener(gate);
  replicascope::StepRecord got;
  std::thread stepper([&] {
    gate->begin_step();
    got = paused.step();
  });
  auto wait_for_hits = [&](size_t n) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return hits.size() >= n; });
  };
  ASSERT_TRUE(wait_for_hits(1));
  EXPECT_TRUE(gate->paused());
  gate->resume(engine::ResumeMode::kNextSyncPoint);  // stops again at the next layer
  ASSERT_TRUE(wait_for_hits(2));
  gate->resume(engine::ResumeMode::kEndOfBatch);
  stepper.join();
  EXPECT_EQ(hits, (std::vector<std::string>{expected.layers[0].layer, expected.layers[1].layer}));
  EXPECT_EQ(copies_at_hit, (std::vector<size_t>{3, 3}));
  EXPECT_EQ(got.loss, expected.loss);
  ASSERT_EQ(got.layers.size(), expected.layers.size());
  for (size_t l = 0; l < got.layers.size(); ++l) {
    EXPECT_EQ(got.layers[l].mean, expected.layers[l].mean);
    EXPECT_EQ(got.layers[l].running_var, expected.layers[l].running_var);
  }
  // Released, the gate pauses no more: a later step runs through.
  gate->release();
  paused.step();
  EXPECT_EQ(hits.size(), 2u);
}

TEST(Session, SynchronizedAndPerCopyAgreeAtOneCopyAndDifferAtFour) {
  for (int copies : {1, 4}) {
    engine::Session sync(engine::demo_model(), demo_data(), options(copies, true));
    engine::Session local(engine::demo_model(), demo_data(), options(copies, false));
    double largest = 0, divergence = 0;
    for (int i = 0; i < 3; ++i) {
      const auto s = sync.step(), u = local.step();
      largest = std::max(largest, std::abs(s.loss - u.loss));
      EXPECT_EQ(u.layers.size(), 3u) << "per-copy runs are observed too";
      for (const auto& layer : s.layers) divergence = std::max(divergence, layer.divergence);
    }
    if (copies == 1) {
      EXPECT_LT(largest, 1e-4) << "one copy: synchronized BatchNorm is BatchNorm";
      EXPECT_EQ(divergence, 0.0);
    } else {
      EXPECT_GT(largest, 1e-3) << "four copies of 4 samples: per-copy statistics differ";
      EXPECT_GT(divergence, 0.05);
    }
  }
}

TEST(Session, RunStopsWhenToldAndCarriesOn) {
  engine::Session session(engine::demo_model(), demo_data(), options(2, true));
  std::atomic<bool> stop{false};
  std::vector<int64_t> seen;
  const auto ran = session.run(stop, 100, [&](const replicascope::StepRecord& r) {
    seen.push_back(r.step);
    if (r.step == 3) stop = true;  // a pause requested while step 3 ran
  });
  EXPECT_EQ(ran, 3);
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3}));
  stop = false;
  EXPECT_EQ(session.run(stop, 2, nullptr), 2);
  EXPECT_EQ(session.steps_done(), 5);
}

TEST(Session, RefusesABatchSmallerThanTheCopies) {
  auto o = options(4, true);
  o.batch_size = 3;
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [&] { engine::Session(engine::demo_model(), demo_data(), o); },
      "a batch of 3 cannot feed 4 copies");
}

}  // namespace
