// SPDX-License-Identifier: MIT
// Bounded per-channel detail (issue 18): the policy alone over a long run, and runs that keep
// detail for a sample of their steps, read back against a run that keeps every step.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "replicascope/engine/model_source.h"
#include "replicascope/engine/session.h"
#include "replicascope/store/detail_policy.h"
#include "replicascope/store/export.h"
#include "replicascope/store/run_reader.h"
#include "replicascope/store/run_writer.h"
#include "replicascope/store/series.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace replicascope;
using replicascope::testing::demo_data;
using replicascope::testing::options;
using replicascope::testing::temp_dir;

// Plays `steps` steps through a policy, keeping the set of kept steps a run file would hold,
// and checks at every step that the bound holds and that the file and the policy agree.
std::set<int64_t> play(store::DetailPolicy& policy, int64_t steps) {
  std::set<int64_t> file;
  for (int64_t step = 1; step <= steps; ++step) {
    const auto decision = policy.admit(step);
    for (const int64_t old : decision.evict) {
      EXPECT_EQ(file.erase(old), 1u) << "step " << step << " evicts " << old << ", not kept";
    }
    if (decision.keep) file.insert(step);
    EXPECT_LE(static_cast<int64_t>(file.size()), policy.capacity()) << "at step " << step;
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_EQ(std::vector<int64_t>(file.begin(), file.end()), policy.kept());
  return file;
}

TEST(DetailPolicy, KeepsItsBoundOverAHundredThousandStepsSpreadOverTheRun) {
  for (const int64_t capacity : {1, 3, 4, 16, 1000}) {
    SCOPED_TRACE("capacity " + std::to_string(capacity));
    store::DetailPolicy policy(capacity, 1);
    const auto kept = play(policy, 100'000);
    // Full enough to be useful: the reservoir is at least half full after its last doubling.
    const int64_t recent = capacity >= 4 ? capacity / 4 : 0;
    EXPECT_GE(static_cast<int64_t>(kept.size()), (capacity - recent + 1) / 2);
    // Spread over the whole run: step 1 stays, and no gap is wider than the reservoir's grid.
    EXPECT_EQ(*kept.begin(), 1);
    int64_t widest = 0;
    for (auto it = std::next(kept.begin()); it != kept.end(); ++it)
      widest = std::max(widest, *it - *std::prev(it));
    EXPECT_LE(widest, policy.stride());
    EXPECT_LE(policy.stride() * (capacity - recent), 2 * 100'000) << "a stride too coarse";
    // The latest steps are there, on their grid.
    if (recent > 0) {
      EXPECT_GT(*kept.rbegin(), 100'000 - policy.recent_spacing());
      EXPECT_LE(policy.recent_spacing(), std::max<int64_t>(1, policy.stride() / 4));
    }
  }
}

TEST(DetailPolicy, EveryKeepsOnlyItsStepsAndAllKeepsEveryOne) {
  store::DetailPolicy every_ten(50, 10);
  for (const int64_t step : play(every_ten, 20'000)) EXPECT_EQ((step - 1) % 10, 0) << step;
  store::DetailPolicy all(store::DetailOptions::kAll, 1);
  for (int64_t step = 1; step <= 1000; ++step) {
    const auto decision = all.admit(step);
    ASSERT_TRUE(decision.keep);
    ASSERT_TRUE(decision.evict.empty());
  }
  store::DetailPolicy all_every_three(store::DetailOptions::kAll, 3);
  EXPECT_TRUE(all_every_three.admit(4).keep);
  EXPECT_FALSE(all_every_three.admit(5).keep);
}

TEST(DetailPolicy, FlagsSayWhatTheyExpect) {
  EXPECT_EQ(store::parse_detail_steps("auto"), store::DetailOptions::kAuto);
  EXPECT_EQ(store::parse_detail_steps("all"), store::DetailOptions::kAll);
  EXPECT_EQ(store::parse_detail_steps("250"), 250);
  for (const char* bad : {"0", "-3", "ten", "", "1e3", "5x"}) {
    try {
      store::parse_detail_steps(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("expects auto, all or a number"), std::string::npos);
      EXPECT_NE(std::string(e.what()).find(std::string("got '") + bad + "'"), std::string::npos);
    }
  }
  EXPECT_THROW(store::parse_detail_every("0"), std::invalid_argument);
  EXPECT_EQ(store::auto_detail_steps(2'900'000), 34);  // densenet121 at cpu:4
  EXPECT_EQ(store::auto_detail_steps(6'000), 1000);    // the demo
  EXPECT_EQ(store::auto_detail_steps(1'000'000'000), 16);
}

using Row = std::tuple<int64_t, std::string, int64_t, int, int, int64_t, int, double>;

std::vector<Row> rows_of(const store::RunReader& run) {
  std::vector<Row> out;
  run.for_each_stat({}, [&](const store::StatRow& r) {
    out.emplace_back(r.step, r.layer, r.sync_point, static_cast<int>(r.key.kind), r.key.index,
                     r.channel, static_cast<int>(r.statistic), r.value);
  });
  return out;
}

// Two sessions of one seed, one recorded with every step's detail and one with a sample: the
// sample's steps hold exactly the values of the same steps in the full run, and every step
// keeps its summaries in both.
TEST(RunDetail, KeptStepsEqualWhatAllRecordsAndEveryStepKeepsItsSummary) {
  const auto dir = temp_dir("replicascope_detail_");
  const auto all_path = (dir / "all.sqlite").string();
  const auto sampled_path = (dir / "sampled.sqlite").string();
  constexpr int kSteps = 30;
  {
    engine::Session a(engine::demo_model(), demo_data(), options(2, true));
    engine::Session b(engine::demo_model(), demo_data(), options(2, true));
    store::RunWriter all(all_path, {}, {}, {store::DetailOptions::kAll, 1});
    store::RunWriter sampled(sampled_path, {}, {}, {6, 1});
    for (int i = 0; i < kSteps; ++i) {
      all.append(a.step());
      sampled.append(b.step());
    }
  }
  const store::RunReader all(all_path), sampled(sampled_path);
  EXPECT_EQ(all.schema_version(), store::kSchemaVersion);
  EXPECT_EQ(sampled.metadata().at("detail_steps"), "6");
  EXPECT_EQ(sampled.metadata().at("detail_capacity"), "6");
  EXPECT_EQ(all.metadata().at("detail_capacity"), "all");
  EXPECT_EQ(all.detail_steps().size(), static_cast<size_t>(kSteps));
  const auto kept = sampled.detail_steps();
  store::DetailPolicy expected(6, 1);
  for (int64_t step = 1; step <= kSteps; ++step) expected.admit(step);
  EXPECT_EQ(kept, expected.kept());
  ASSERT_LE(kept.size(), 6u);
  EXPECT_GT(kept.back(), kSteps - expected.recent_spacing());
  for (const auto& step : sampled.steps())
    EXPECT_EQ(step.detail, std::count(kept.begin(), kept.end(), step.step) == 1);

  std::vector<Row> wanted;
  for (const auto& row : rows_of(all)) {
    if (std::count(kept.begin(), kept.end(), std::get<0>(row))) wanted.push_back(row);
  }
  const auto got = rows_of(sampled);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got, wanted);

  // Summaries: every step, in both runs alike, and the means over channels of the full run's
  // per-channel values (float32's precision).
  for (const auto& layer : all.layers()) {
    std::vector<store::SummaryRow> from_all, from_sampled;
    all.for_each_summary(layer, [&](const store::SummaryRow& r) { from_all.push_back(r); });
    sampled.for_each_summary(layer, [&](const store::SummaryRow& r) { from_sampled.push_back(r); });
    ASSERT_EQ(from_all.size(), static_cast<size_t>(kSteps) * 4);  // 2 copies, sync, running
    ASSERT_EQ(from_sampled.size(), from_all.size());
    for (size_t i = 0; i < from_all.size(); ++i) {
      EXPECT_EQ(from_all[i].step, from_sampled[i].step);
      EXPECT_EQ(from_all[i].summary.key, from_sampled[i].summary.key);
      EXPECT_EQ(from_all[i].summary.mean, from_sampled[i].summary.mean);
      EXPECT_EQ(from_all[i].summary.count, from_sampled[i].summary.count);
    }
    store::SeriesSelection channels{layer, Statistic::kVar, 0, 1 << 20};
    const auto per_channel = store::statistic_series(all, channels);
    for (const auto& row : from_all) {
      if (row.step != 7) continue;
      double sum = 0;
      int n = 0;
      for (const auto& s : per_channel) {
        if (s.key != row.summary.key) continue;
        sum += s.values[6];
        ++n;
      }
      ASSERT_GT(n, 0);
      EXPECT_NEAR(row.summary.var, sum / n, 1e-6 * std::abs(sum / n));
    }
  }
  // Series over channels draw every step; a sampled channel's are points with gaps.
  store::SeriesSelection over{"features.5", Statistic::kMean, 0, 0, 0, true};
  for (const auto& s : store::statistic_series(sampled, over)) {
    EXPECT_EQ(s.steps.size(), static_cast<size_t>(kSteps));
    EXPECT_EQ(s.channel, store::kOverChannels);
    EXPECT_FALSE(s.sparse());
  }
  for (const auto& s : store::statistic_series(sampled, {"features.5", Statistic::kMean, 2, 2}))
    EXPECT_TRUE(s.sparse());
  // Divergence, read in one pass, for every step with the channel where it was largest: the
  // same whatever detail a run keeps (the two sessions are the same training).
  const auto divergence = sampled.divergence_by_layer();
  const auto all_divergence = all.divergence_by_layer();
  ASSERT_EQ(divergence.size(), 3u);
  for (const auto& [layer, points] : divergence) {
    const auto& full = all_divergence.at(layer);
    ASSERT_EQ(points.size(), static_cast<size_t>(kSteps));
    ASSERT_EQ(full.size(), points.size());
    for (size_t i = 0; i < points.size(); ++i) {
      EXPECT_EQ(points[i].step, static_cast<int64_t>(i + 1));
      EXPECT_EQ(points[i].value, full[i].value);
      EXPECT_EQ(points[i].worst_channel, full[i].worst_channel);
      EXPECT_GE(points[i].worst_channel, 0);
    }
  }
  std::ostringstream csv;
  store::write_summaries_csv(sampled, "head.2", csv);
  const auto text = csv.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1 + kSteps * 4);
  EXPECT_EQ(text.rfind("step,layer,sync_point,copy,count,mean,var\n", 0), 0u);
  fs::remove_all(dir);
}

// The first non-finite step and the step before it keep their channels whatever the policy
// chose (a diagnosis of the NaN looks there), as the same steps of a run that keeps all; the
// policy's other choices are those of a run without a NaN; a later non-finite step is not pinned.
TEST(RunDetail, TheFirstNonFiniteStepAndTheOneBeforeKeepTheirChannels) {
  const auto dir = temp_dir("replicascope_detail_nan_");
  const auto all_path = (dir / "all.sqlite").string();
  const auto sampled_path = (dir / "sampled.sqlite").string();
  constexpr int kSteps = 60, kFirstNan = 31;
  {
    engine::Session session(engine::demo_model(), demo_data(), options(2, true));
    store::RunWriter all(all_path, {}, {}, {store::DetailOptions::kAll, 1});
    store::RunWriter sampled(sampled_path, {}, {}, {4, 1});
    for (int i = 1; i <= kSteps; ++i) {
      auto record = session.step();
      if (i == kFirstNan || i == kFirstNan + 5) record.loss = std::nan("");  // planted
      all.append(record);
      sampled.append(record);
    }
  }
  const store::RunReader all(all_path), sampled(sampled_path);
  store::DetailPolicy grids(4, 1);
  for (int64_t step = 1; step <= kSteps; ++step) grids.admit(step);
  auto expected = grids.kept();
  for (const int64_t pinned : {kFirstNan - 1, kFirstNan}) {
    ASSERT_FALSE(std::count(expected.begin(), expected.end(), pinned))
        << "the grids keep step " << pinned << " anyway: the test would prove nothing";
    expected.push_back(pinned);
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(sampled.detail_steps(), expected);
  for (const auto& step : sampled.steps()) {
    EXPECT_EQ(step.detail, std::count(expected.begin(), expected.end(), step.step) == 1)
        << "step " << step.step;
  }
  std::vector<Row> wanted;
  for (const auto& row : rows_of(all)) {
    if (std::count(expected.begin(), expected.end(), std::get<0>(row))) wanted.push_back(row);
  }
  const auto got = rows_of(sampled);
  EXPECT_EQ(got, wanted);
  EXPECT_TRUE(std::any_of(got.begin(), got.end(),
                          [](const Row& r) { return std::get<0>(r) == kFirstNan - 1; }));
}

// Runs of earlier versions kept every step's channels (float64): their summaries are computed
// from them.
TEST(RunDetail, OlderRunsGiveSummariesFromTheirChannels) {
  {
    const store::RunReader run(std::string(REPLICASCOPE_SOURCE_DIR) + "/tests/data/run_v1.sqlite");
    const auto layer = run.layers().back();
    std::map<std::tuple<int64_t, int, int>, std::pair<double, int>> sums;
    store::StatFilter filter;
    filter.layer = layer;
    filter.statistic = Statistic::kMean;
    run.for_each_stat(filter, [&](const store::StatRow& r) {
      auto& [sum, n] = sums[{r.step, static_cast<int>(r.key.kind), r.key.index}];
      sum += r.value;
      ++n;
    });
    size_t seen = 0;
    run.for_each_summary(layer, [&](const store::SummaryRow& r) {
      const auto& [sum, n] =
          sums.at({r.step, static_cast<int>(r.summary.key.kind), r.summary.key.index});
      EXPECT_DOUBLE_EQ(r.summary.mean, sum / n);
      ++seen;
    });
    EXPECT_EQ(seen, sums.size());
    EXPECT_EQ(run.detail_steps().size(), run.steps().size());
  }
}

}  // namespace
