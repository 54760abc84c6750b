// SPDX-License-Identifier: MIT
// The rules on what version 6 records beside the statistics: running-stats-lag (the running
// statistics against the trend of the batch's, with the layer's momentum), rank-buffers-differ
// (the ranks' running statistics against what DDP's broadcast leaves) and frozen-batchnorm
// (BatchNorm calls in eval mode during training steps). Batch statistics are drawn here from a
// known trend and noise; the running ones follow them as PyTorch's update does.
#include <gtest/gtest.h>

#include <optional>
#include <random>

#include "diagnose_steps.h"

namespace replicascope::testing {
namespace {

using diagnose::Diagnosis;
using diagnose::Severity;

// A layer's batch means drift by `drift` a step around 0 with noise of sd `noise` (variance 1,
// batch of 256 values per channel); the running statistics follow with `momentum` (nullopt: a
// cumulative mean), `calls` times a step, unless frozen from step `stale_from` on.
struct LayerPlan {
  std::optional<double> momentum = 0.1;
  double drift = 0.001, noise = 0.05;
  int calls = 1;
  int64_t stale_from = 0;  // 0: never
};

std::vector<diagnose::Finding> lag_findings(const LayerPlan& plan, int64_t steps, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<double> normal(0, 1);
  Diagnosis diagnosis(facts(true));
  double running_mean = 0, running_var = 1;
  int64_t updates = 0;
  const int64_t count = 256;
  for (int64_t step = 1; step <= steps; ++step) {
    std::vector<diagnose::LayerEvidence> layers;
    for (int call = 0; call < plan.calls; ++call) {
      const double mean = plan.drift * static_cast<double>(step) + plan.noise * normal(random);
      const double var = 1 + 2 * plan.noise * normal(random);
      if (!plan.stale_from || step < plan.stale_from) {
        const double m = plan.momentum ? *plan.momentum : 1.0 / static_cast<double>(++updates);
        running_mean = (1 - m) * running_mean + m * mean;
        running_var = (1 - m) * running_var + m * var * count / (count - 1.0);
      }
      auto layer = planted_layer("bn",
                                 {summary(SeriesKey::synchronized(), count, mean, var),
                                  summary(SeriesKey::running(), count, running_mean, running_var)},
                                 call);
      layer.settings = BatchNormSettings{plan.momentum, 1e-5};
      layers.push_back(std::move(layer));
    }
    diagnosis.observe(planted_step(step, 1.0, std::move(layers)));
  }
  diagnosis.finish();
  return of_kind(diagnosis.findings(), "running-stats-lag");
}

int false_alarms(const LayerPlan& plan, int seeds) {
  int alarms = 0;
  for (int seed = 0; seed < seeds; ++seed) alarms += !lag_findings(plan, 300, seed).empty();
  return alarms;
}

TEST(DiagnoseRunningStatsLag, HealthyRunningStatisticsStayQuiet) {
  EXPECT_EQ(false_alarms({}, 100), 0);
  LayerPlan twice;  // a layer called twice a step moves by 1 - 0.9^2 a step
  twice.calls = 2;
  EXPECT_EQ(false_alarms(twice, 50), 0);
  LayerPlan faster;  // a drift the running statistics follow 9 steps late: 0.027 sigma
  faster.drift = 0.003;
  EXPECT_EQ(false_alarms(faster, 50), 0);
}

TEST(DiagnoseRunningStatsLag, ACumulativeMeanOfADriftingLayerLags) {
  LayerPlan cumulative;
  cumulative.momentum = std::nullopt;
  cumulative.drift = 0.01;  // 3 sigma over the run; the cumulative mean is half of it behind
  for (uint32_t seed = 0; seed < 20; ++seed) {
    const auto found = lag_findings(cumulative, 300, seed);
    ASSERT_EQ(found.size(), 1u) << "seed " << seed;
    EXPECT_EQ(found[0].layer, "bn");
    EXPECT_EQ(found[0].severity, Severity::kWarning);
    EXPECT_EQ(found[0].first_step, 251);
    EXPECT_EQ(found[0].last_step, 300);
    EXPECT_NE(found[0].evidence.find("momentum None, a cumulative mean"), std::string::npos)
        << found[0].evidence;
    EXPECT_NE(found[0].what_to_do.find("set a momentum"), std::string::npos);
  }
}

TEST(DiagnoseRunningStatsLag, RunningStatisticsThatStoppedUpdatingLag) {
  LayerPlan stale;
  stale.drift = 0.01;
  stale.stale_from = 150;  // 1.5 sigma behind by step 300
  const auto found = lag_findings(stale, 300, 1);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].evidence.find("at step 300 the running mean is -1."), std::string::npos)
      << found[0].evidence;
}

TEST(DiagnoseRunningStatsLag, IsNotJudgedBeforeTheMomentumSettles) {
  LayerPlan slow;
  slow.momentum = 0.01;  // 3 / 0.01 = 300 calls: not before step 300
  slow.stale_from = 100;
  slow.drift = 0.01;
  EXPECT_TRUE(lag_findings(slow, 299, 1).empty());
  EXPECT_EQ(lag_findings(slow, 300, 1).size(), 1u);
  // Nor with fewer steps than the trend's window.
  LayerPlan stale;
  stale.stale_from = 10;
  stale.drift = 0.05;
  EXPECT_TRUE(lag_findings(stale, 49, 1).empty());
}

// Two ranks' steps of one layer (momentum 0.1): their batch means differ by noise; rank 1's
// running statistics after each step are rank 0's broadcast ones plus its own update's
// difference (per-rank BatchNorm), the same as rank 0's (synchronized), or its own average
// (`own`: no broadcast).
std::vector<diagnose::Finding> two_ranks(bool synchronized, bool own, int64_t steps = 60) {
  std::mt19937 random(5);
  std::normal_distribution<double> normal(0, 0.1);
  Diagnosis diagnosis(facts(synchronized, 1, 2));
  double r0 = 0, r1 = 0;
  for (int64_t step = 1; step <= steps; ++step) {
    const double b0 = normal(random), b1 = normal(random), whole = (b0 + b1) / 2;
    const double before = own ? r1 : r0;
    r0 = 0.9 * r0 + 0.1 * (synchronized ? whole : b0);
    r1 = 0.9 * before + 0.1 * (synchronized ? whole : b1);
    auto layer = planted_layer(
        "bn",
        {summary(SeriesKey::synchronized(), 64, whole, 1), summary(SeriesKey::running(), 64, r0, 1),
         summary(SeriesKey::rank(0), 32, b0, 1), summary(SeriesKey::rank(1), 32, b1, 1),
         summary(SeriesKey::rank_running(1), 64, r1, 1)});
    layer.settings = BatchNormSettings{};
    diagnosis.observe(planted_step(step, 1.0, {layer}));
  }
  return of_kind(diagnosis.findings(), "rank-buffers-differ");
}

TEST(DiagnoseRankBuffersDiffer, BroadcastOrSynchronizedBuffersSayNothing) {
  EXPECT_TRUE(two_ranks(false, false).empty());  // DDP's broadcast, per-rank BatchNorm
  EXPECT_TRUE(two_ranks(true, false).empty());   // SyncBatchNorm: the same update on every rank
  const auto own = two_ranks(false, true);       // broadcast_buffers=False on shuffled data
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(own[0].severity, Severity::kNote);
  EXPECT_EQ(own[0].first_step, 2);
}

diagnose::StepEvidence step_with(int64_t step, std::vector<std::string> trained,
                                 std::vector<EvalCalls> eval) {
  std::vector<diagnose::LayerEvidence> layers;
  for (const auto& name : trained) layers.push_back(healthy_layer(name));
  auto out = planted_step(step, 1.0, std::move(layers));
  out.eval_calls = std::move(eval);
  return out;
}

TEST(DiagnoseFrozenBatchNorm, ALayerInEvalModeWhileOthersTrainIsANote) {
  Diagnosis diagnosis(facts(true));
  diagnosis.observe(step_with(1, {"head.bn"}, {}));
  for (int64_t step = 2; step <= 5; ++step)
    diagnosis.observe(step_with(step, {"head.bn"}, {{"backbone.bn", 2}}));
  // Validation: every layer in eval mode, none trained: not a training step.
  diagnosis.observe(step_with(6, {}, {{"backbone.bn", 1}, {"head.bn", 1}}));
  // A layer that trained in the step and ran in eval mode too (validation after it) is not frozen.
  diagnosis.observe(step_with(7, {"head.bn"}, {{"head.bn", 1}}));
  const auto found = of_kind(diagnosis.findings(), "frozen-batchnorm");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, Severity::kNote);
  EXPECT_EQ(found[0].layer, "backbone.bn");
  EXPECT_EQ(found[0].first_step, 2);
  EXPECT_EQ(found[0].last_step, 5);
  EXPECT_NE(found[0].evidence.find("in 4 of 6 training steps, 8 call(s)"), std::string::npos)
      << found[0].evidence;
}

TEST(DiagnoseFrozenBatchNorm, RunsWithoutTheRecordDoNotRunTheRules) {
  auto old = facts(true);
  old.records_run_facts = false;
  old.schema_version = 5;
  Diagnosis diagnosis(old);
  for (int64_t step = 1; step <= 3; ++step)
    diagnosis.observe(step_with(step, {"head.bn"}, {{"backbone.bn", 2}}));
  EXPECT_TRUE(of_kind(diagnosis.findings(), "frozen-batchnorm").empty());
}

}  // namespace
}  // namespace replicascope::testing
