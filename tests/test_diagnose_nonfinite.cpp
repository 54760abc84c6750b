// SPDX-License-Identifier: MIT
// The nonfinite rule: the first step where the loss or a statistic stopped being finite, its
// layer, copies and channels, and its cause told apart.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "diagnose_steps.h"

namespace replicascope::testing {
namespace {

using diagnose::Severity;

// Steps 1-4 healthy at layers a and b; then `last` (step 5); then two more non-finite steps.
diagnose::Finding first_nonfinite(const diagnose::StepEvidence& before,
                                  const diagnose::StepEvidence& last, bool synchronized = true) {
  diagnose::Diagnosis diagnosis(facts(synchronized));
  for (int64_t step = 1; step <= 3; ++step) {
    diagnosis.observe(planted_step(step, 1.0, {healthy_layer("a"), healthy_layer("b")}));
  }
  diagnosis.observe(before);
  diagnosis.observe(last);
  for (int64_t step = 6; step <= 7; ++step) diagnosis.observe(planted_step(step, kNan));
  const auto found = of_kind(diagnosis.findings(), "nonfinite");
  EXPECT_EQ(found.size(), 1u);
  return found.empty() ? diagnose::Finding{} : found[0];
}

diagnose::StepEvidence healthy_step(int64_t step) {
  return planted_step(step, 1.0, {healthy_layer("a"), healthy_layer("b")});
}

// Layer b's copy 1 not finite at step 5 (the statistics; the loss as the writer says).
diagnose::StepEvidence bad_b(int64_t count = 64) {
  auto step =
      planted_step(5, kNan,
                   {healthy_layer("a"),
                    planted_layer("b", {summary(SeriesKey::copy(0), 64, 0, 1),
                                        summary(SeriesKey::copy(1), count, kNan, 1),
                                        summary(SeriesKey::synchronized(), 128, kNan, kNan)})});
  step.nonfinite = "loss, layer 'b' statistics";
  return step;
}

TEST(DiagnoseNonfinite, TheLossFirstWhenEveryStatisticIsFinite) {
  const auto f = first_nonfinite(healthy_step(4), planted_step(5, kNan, {healthy_layer("a")}));
  EXPECT_EQ(f.severity, Severity::kError);
  EXPECT_EQ(f.first_step, 5);
  EXPECT_EQ(f.last_step, 7);  // it grows while the steps stay non-finite
  EXPECT_EQ(f.layer, "");
  EXPECT_NE(f.evidence.find("the cause: the loss first"), std::string::npos) << f.evidence;
}

TEST(DiagnoseNonfinite, NoWordOnStatisticsAStepDoesNotRecord) {
  diagnose::Diagnosis diagnosis(facts(true));
  diagnosis.observe(planted_step(1, 1.0));
  diagnosis.observe(planted_step(2, kNan));
  const auto found = of_kind(diagnosis.findings(), "nonfinite");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].first_step, 2);
  EXPECT_NE(found[0].evidence.find("the step records no statistics"), std::string::npos)
      << found[0].evidence;
}

TEST(DiagnoseNonfinite, NamesTheLayerAndCopiesAndTheLayersBetween) {
  const auto f = first_nonfinite(healthy_step(4), bad_b());
  EXPECT_EQ(f.layer, "b");
  EXPECT_EQ(f.series, std::vector<SeriesKey>{SeriesKey::copy(1)});
  EXPECT_NE(f.evidence.find("the input of 'b' was already non-finite while 'a' before it was "
                            "finite"),
            std::string::npos)
      << f.evidence;
}

TEST(DiagnoseNonfinite, TheFirstBatchNormsInputSaysTheDataOrTheLayersBeforeIt) {
  auto step = planted_step(
      5, 1.0, {planted_layer("a", {summary(SeriesKey::copy(0), 64, kNan, 1)}), healthy_layer("b")});
  step.nonfinite = "layer 'a' statistics";
  const auto f = first_nonfinite(healthy_step(4), step);
  EXPECT_EQ(f.layer, "a");
  EXPECT_NE(f.evidence.find("the first BatchNorm of the step, was already non-finite: the data or "
                            "the layers before it"),
            std::string::npos)
      << f.evidence;
}

TEST(DiagnoseNonfinite, ACopyOfOneValuePerChannelInAnUnsynchronizedRun) {
  const auto f = first_nonfinite(healthy_step(4), bad_b(/*count=*/1), /*synchronized=*/false);
  EXPECT_NE(f.evidence.find("copy 1 held one value per channel at 'b'"), std::string::npos)
      << f.evidence;
}

TEST(DiagnoseNonfinite, AVarianceAtOrBelowEpsTheStepBefore) {
  auto before = planted_step(
      4, 1.0,
      {healthy_layer("a"), planted_layer("b", {summary(SeriesKey::copy(0), 64, 0, 1e-7),
                                               summary(SeriesKey::copy(1), 64, 0, 1)})});
  const auto f = first_nonfinite(before, bad_b());
  EXPECT_NE(f.evidence.find("at step 4, the variance of copy 0 at 'b' was 1e-07, at or below eps"),
            std::string::npos)
      << f.evidence;
}

TEST(DiagnoseNonfinite, ValuesPast1e30TheStepBeforeOverflowed) {
  auto before = planted_step(
      4, 1.0, {planted_layer("a", {summary(SeriesKey::copy(0), 64, 3e31, 1)}), healthy_layer("b")});
  const auto f = first_nonfinite(before, bad_b());
  EXPECT_NE(f.evidence.find("at step 4, copy 0 at 'a' reached 3e+31, past 1e30: the values "
                            "overflowed"),
            std::string::npos)
      << f.evidence;
}

// A live record, every channel kept: the channels that are not finite are named.
TEST(DiagnoseNonfinite, NamesTheChannelsWhereTheStepKeepsThem) {
  StepRecord record;
  record.step = 1;
  record.loss = 1.0;
  LayerStats layer;
  layer.layer = "features.1";
  layer.count = 8;
  layer.copies = {{0, 4, {0, 0, 0, 0}, {1, 1, 1, 1}}, {1, 4, {0, 0, kNan, 0}, {1, 1, 1, INFINITY}}};
  layer.mean = {0, 0, kNan, 0};
  layer.var = {1, 1, kNan, INFINITY};
  record.layers = {layer};
  diagnose::Diagnosis diagnosis(facts(true));
  diagnosis.observe(diagnose::evidence_of(record));
  const auto found = of_kind(diagnosis.findings(), "nonfinite");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].series, std::vector<SeriesKey>{SeriesKey::copy(1)});
  EXPECT_EQ(found[0].channels, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(found[0].first_step, 1);
  EXPECT_NE(found[0].evidence.find("layer 'features.1' statistics"), std::string::npos);
}

TEST(DiagnoseNonfinite, QuietWhileEverythingIsFinite) {
  diagnose::Diagnosis diagnosis(facts(true));
  for (int64_t step = 1; step <= 300; ++step) diagnosis.observe(healthy_step(step));
  // A NaN loss the writer does not call non-finite is a loss not given (a Python run).
  auto no_loss = healthy_step(301);
  no_loss.loss = kNan;
  diagnosis.observe(no_loss);
  EXPECT_TRUE(of_kind(diagnosis.findings(), "nonfinite").empty());
}

}  // namespace
}  // namespace replicascope::testing
