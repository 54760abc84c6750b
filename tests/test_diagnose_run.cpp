// SPDX-License-Identifier: MIT
// Findings end to end: real trainings of the demo CNN with a planted problem, recorded to a run
// file, read back through diagnose_run (and seen live by the session's own Diagnosis); the store's
// step-by-step reading that diagnose_run rests on.
#include <gtest/gtest.h>

#include <algorithm>

#include "diagnose_steps.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/store/run_reader.h"
#include "replicascope/store/run_writer.h"
#include "test_util.h"

namespace replicascope::testing {
namespace {

using diagnose::Severity;

struct Recorded {
  std::vector<diagnose::Finding> live, read;
  std::string path;
};

// Trains the demo CNN on `copies` CPU copies for `steps` steps, recording every step to a new
// run; the findings the session saw live and those diagnose_run reads back.
Recorded train(const std::string& name, int copies, int64_t batch, bool synchronized,
               double learning_rate, int steps, store::DetailOptions detail = {}) {
  auto o = options(copies, synchronized);
  o.batch_size = batch;
  o.learning_rate = learning_rate;
  Recorded out;
  out.path = (temp_dir("replicascope_diagnose_" + name) / "run.sqlite").string();
  {
    engine::Session session(engine::demo_model(), demo_data(), o);
    store::RunWriter writer(out.path, engine::run_metadata(o, "", "synthetic"), {}, detail);
    for (int i = 0; i < steps; ++i) writer.append(session.step());
    out.live = session.diagnosis().findings();
  }
  out.read = diagnose::diagnose_run(store::RunReader(out.path));
  return out;
}

std::string kinds(const std::vector<diagnose::Finding>& findings) {
  std::string out;
  for (const auto& f : findings)
    out += std::string(diagnose::severity_name(f.severity)) + " " + f.kind + "; ";
  return out;
}

TEST(DiagnoseRun, ALearningRateOf50MakesTheLossExplode) {
  const auto run = train("explodes", 2, 16, true, 50, 30);
  const auto read = of_kind(run.read, "loss-explodes"), live = of_kind(run.live, "loss-explodes");
  ASSERT_EQ(read.size(), 1u) << kinds(run.read);
  ASSERT_EQ(live.size(), 1u) << kinds(run.live);
  EXPECT_EQ(read[0].severity, Severity::kWarning);
  EXPECT_EQ(read[0].layer, "");
  EXPECT_EQ(read[0].first_step, live[0].first_step);
  EXPECT_EQ(read[0].first_step, 10);  // the first step the rule looks at: it rose at once
}

TEST(DiagnoseRun, ALearningRatePastOverflowIsNonfiniteWhereTheSessionSawIt) {
  const auto run = train("nonfinite", 2, 16, true, 1e30, 6);
  const auto read = of_kind(run.read, "nonfinite"), live = of_kind(run.live, "nonfinite");
  ASSERT_EQ(read.size(), 1u) << kinds(run.read);
  ASSERT_EQ(live.size(), 1u) << kinds(run.live);
  EXPECT_EQ(run.read.front().kind, "nonfinite");  // errors first
  EXPECT_EQ(read[0].severity, Severity::kError);
  EXPECT_EQ(read[0].first_step, live[0].first_step);
  EXPECT_EQ(read[0].layer, live[0].layer);
  EXPECT_FALSE(read[0].layer.empty());
  EXPECT_EQ(read[0].last_step, 6);
}

// A run that keeps the detail of 2 steps still keeps the first non-finite step's and the one
// before's (both writers pin them): read back, its finding is that of the same training kept
// whole, and the live session's (whose float64 values the file keeps in float32: a channel past
// 3.4e38 reads back infinite, so the file may name more channels, never fewer).
TEST(DiagnoseRun, ASampledRunSaysOfItsFirstNonfiniteStepWhatTheSessionSaid) {
  const auto run = train("nonfinite_sampled", 2, 16, true, 50, 30, {2, 1});
  const auto whole = train("nonfinite_whole", 2, 16, true, 50, 30, {store::DetailOptions::kAll, 1});
  const auto read = of_kind(run.read, "nonfinite"), live = of_kind(run.live, "nonfinite");
  const auto kept_whole = of_kind(whole.read, "nonfinite");
  ASSERT_EQ(read.size(), 1u) << kinds(run.read);
  ASSERT_EQ(live.size(), 1u) << kinds(run.live);
  ASSERT_EQ(kept_whole.size(), 1u) << kinds(whole.read);
  EXPECT_GT(read[0].first_step, 2) << "steps 1 and 2 keep their detail anyway";
  EXPECT_EQ(read[0].first_step, live[0].first_step);
  EXPECT_EQ(read[0].layer, live[0].layer);
  EXPECT_EQ(read[0].evidence, live[0].evidence);
  EXPECT_TRUE(std::includes(read[0].channels.begin(), read[0].channels.end(),
                            live[0].channels.begin(), live[0].channels.end()));
  EXPECT_FALSE(live[0].channels.empty());
  EXPECT_EQ(read[0].channels, kept_whole[0].channels);
  EXPECT_EQ(read[0].evidence, kept_whole[0].evidence);
  const auto kept = store::RunReader(run.path).detail_steps();
  EXPECT_TRUE(std::count(kept.begin(), kept.end(), read[0].first_step - 1)) << "the step before";
}

TEST(DiagnoseRun, ABatchOf5On4CopiesIsUneven) {
  const auto run = train("uneven", 4, 5, true, 0.05, 4);
  const auto read = of_kind(run.read, "uneven-copies");
  ASSERT_EQ(read.size(), 1u) << kinds(run.read);
  EXPECT_EQ(read[0].severity, Severity::kWarning);  // 2, 1, 1, 1 samples
  EXPECT_EQ(read[0].series,
            (std::vector<SeriesKey>{SeriesKey::copy(1), SeriesKey::copy(2), SeriesKey::copy(3)}));
  EXPECT_EQ(read[0].first_step, 1);
  EXPECT_EQ(read[0].last_step, 4);
  EXPECT_EQ(kinds(run.live), kinds(run.read));
}

// Per-copy BatchNorm on 2 samples a copy, 7 of 40 steps keeping every channel: the spread is
// measured on the kept steps of the run, on every step live.
TEST(DiagnoseRun, PerCopyBatchNormOn2SamplesACopyIsASmallPerCopyBatch) {
  const auto run = train("small", 4, 8, false, 0.05, 40, {8, 1});
  const auto read = of_kind(run.read, "small-per-copy-batch");
  ASSERT_EQ(read.size(), 1u) << kinds(run.read);
  EXPECT_EQ(read[0].severity, Severity::kWarning);
  // Every layer's figure, from the kept steps only.
  const auto kept = store::RunReader(run.path).detail_steps().size();
  EXPECT_LT(kept, 10u);
  EXPECT_NE(read[0].evidence.find(" at 'features.1', "), std::string::npos) << read[0].evidence;
  EXPECT_NE(read[0].evidence.find(" at 'head.2' with 2 samples per copy, over " +
                                  std::to_string(kept) + " steps with every channel kept"),
            std::string::npos)
      << read[0].evidence;
  ASSERT_EQ(of_kind(run.live, "small-per-copy-batch").size(), 1u) << kinds(run.live);
  EXPECT_EQ(of_kind(run.live, "small-per-copy-batch")[0].first_step, 3);
}

TEST(DiagnoseRun, AHealthySynchronizedDemoGivesNoWarning) {
  const auto run = train("healthy", 2, 16, true, 0.05, 60);
  for (const auto& f : run.read) EXPECT_EQ(f.severity, Severity::kNote) << kinds(run.read);
  for (const auto& f : run.live) EXPECT_EQ(f.severity, Severity::kNote) << kinds(run.live);
}

// for_each_sync_point on `reader` of `steps` steps, one sync point per layer: every step's sync
// points in step order, with the summaries for_each_summary gives layer by layer.
void expect_sync_points_in_step_order(const store::RunReader& reader, size_t steps) {
  std::vector<store::SyncPointRow> rows;
  reader.for_each_sync_point([&](const store::SyncPointRow& row) { rows.push_back(row); });
  const auto layers = reader.layers();
  ASSERT_EQ(rows.size(), steps * layers.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    std::vector<KeySummary> mine;  // what the rows say of layer l, step by step
    for (size_t i = l; i < rows.size(); i += layers.size()) {
      EXPECT_EQ(rows[i].step, static_cast<int64_t>(i / layers.size()) + 1);
      EXPECT_EQ(rows[i].layer, layers[l]);
      mine.insert(mine.end(), rows[i].summaries.begin(), rows[i].summaries.end());
    }
    std::vector<KeySummary> by_layer;
    reader.for_each_summary(layers[l],
                            [&](const store::SummaryRow& s) { by_layer.push_back(s.summary); });
    ASSERT_EQ(by_layer.size(), mine.size());
    for (size_t i = 0; i < by_layer.size(); ++i) {
      EXPECT_EQ(by_layer[i].key, mine[i].key);
      EXPECT_EQ(by_layer[i].count, mine[i].count);
      EXPECT_EQ(by_layer[i].mean, mine[i].mean);
      EXPECT_EQ(by_layer[i].var, mine[i].var);
    }
  }
}

TEST(DiagnoseRun, TheReaderGivesEveryStepsSyncPointsInOrder) {
  const auto run = train("reader", 2, 16, true, 0.05, 5, {2, 1});
  expect_sync_points_in_step_order(store::RunReader(run.path), 5);
}

// A version-1 run (tests/data/run_v1.sqlite, every channel of every step in float64): its
// summaries are computed as it is read, and diagnose reads it like any other.
TEST(DiagnoseRun, AVersionOneRunIsReadAStepAtATime) {
  const store::RunReader run(std::string(REPLICASCOPE_SOURCE_DIR) + "/tests/data/run_v1.sqlite");
  expect_sync_points_in_step_order(run, 3);
  for (const auto& f : diagnose::diagnose_run(run)) ADD_FAILURE() << f.kind << ": " << f.evidence;
}

}  // namespace
}  // namespace replicascope::testing
