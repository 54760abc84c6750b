// SPDX-License-Identifier: MIT
// The rules on how the copies' statistics differ: copies-see-different-data (a test of
// persistence with a threshold from Student's t) and small-per-copy-batch (an effect size).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "diagnose_steps.h"

namespace replicascope::testing {
namespace {

using diagnose::Severity;

// `steps` steps of `layers` layers whose copy 1 deviates from the whole batch by d ~ N(shift,
// sd) (in its sigmas) at the layers listed in `shifted`, copy 0 by N(0, sd), with `seed`.
std::vector<diagnose::Finding> different_data(double shift, double sd, uint32_t seed,
                                              bool synchronized = true, int steps = 300,
                                              std::vector<int> shifted = {0}, int layers = 1,
                                              int processes = 1) {
  std::mt19937 random(seed);
  std::normal_distribution<double> noise(0, sd);
  diagnose::Diagnosis diagnosis(facts(synchronized, 2, processes));
  const auto key = [&](int i) { return processes > 1 ? SeriesKey::rank(i) : SeriesKey::copy(i); };
  for (int step = 1; step <= steps; ++step) {
    std::vector<diagnose::LayerEvidence> planted;
    for (int l = 0; l < layers; ++l) {
      const bool moved = std::find(shifted.begin(), shifted.end(), l) != shifted.end();
      // The whole batch: mean 0.5, variance 4, so d is the copy's offset / 2.
      planted.push_back(
          planted_layer("layer" + std::to_string(l),
                        {summary(key(0), 32, 0.5 + 2 * noise(random), 4),
                         summary(key(1), 32, 0.5 + 2 * ((moved ? shift : 0) + noise(random)), 4),
                         summary(SeriesKey::synchronized(), 64, 0.5, 4)}));
    }
    diagnosis.observe(planted_step(step, 1.0, std::move(planted)));
  }
  return of_kind(diagnosis.findings(), "copies-see-different-data");
}

TEST(DiagnoseDifferentData, QuietOnCopiesDrawnFromOneDistribution) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    EXPECT_TRUE(different_data(0, 1, seed).empty()) << "seed " << seed;
    EXPECT_TRUE(different_data(0, 0.2, seed).empty()) << "seed " << seed;
  }
  // A shift below the effect worth saying (0.1), however sure the test is.
  EXPECT_TRUE(different_data(0.05, 0.01, 3).empty());
}

TEST(DiagnoseDifferentData, FoundAtTheEndOfTheSecondWindow) {
  const auto found = different_data(0.3, 0.2, 7);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, Severity::kWarning);
  EXPECT_EQ(found[0].layer, "layer0");
  EXPECT_EQ(found[0].series, std::vector<SeriesKey>{SeriesKey::copy(1)});
  EXPECT_EQ(found[0].first_step, 32);
  EXPECT_EQ(found[0].last_step, 288);  // the last whole window
  EXPECT_NE(found[0].evidence.find("copy 1 at 'layer0': mean d +0."), std::string::npos)
      << found[0].evidence;
  EXPECT_NE(found[0].evidence.find("Bonferroni over 36 tests"), std::string::npos)
      << found[0].evidence;  // 2 copies x 1 layer x 18 windows
}

TEST(DiagnoseDifferentData, OneFindingPerCopyCountingItsLayers) {
  const auto found = different_data(0.3, 0.2, 7, true, 64, {1, 2}, 3);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].layer, "layer1");  // the first in the step's order
  EXPECT_NE(found[0].evidence.find("2 layers in all"), std::string::npos) << found[0].evidence;
}

// Copy 1's channels shift apart (+shift, -shift, then 0 for the rest): the mean over channels
// does not move, the per-channel deviations do; healthy channels (N(0, sd) each) stay quiet.
std::vector<diagnose::Finding> channels_apart(double shift, double sd, uint32_t seed,
                                              int channels = 16) {
  std::mt19937 random(seed);
  std::normal_distribution<double> noise(0, sd);
  diagnose::Diagnosis diagnosis(facts(true, 2, 1));
  for (int step = 1; step <= 300; ++step) {
    auto layer = planted_layer(
        "layer0", {summary(SeriesKey::copy(0), 32, 0.5, 4), summary(SeriesKey::copy(1), 32, 0.5, 4),
                   summary(SeriesKey::synchronized(), 64, 0.5, 4)});
    for (int copy = 0; copy < 2; ++copy) {
      SeriesDeviation d{SeriesKey::copy(copy), {}};
      for (int c = 0; c < channels; ++c)
        d.u.push_back((copy == 1 && c < 2 ? (c == 0 ? shift : -shift) : 0) + noise(random));
      layer.deviations.push_back(std::move(d));
    }
    diagnosis.observe(planted_step(step, 1.0, {layer}));
  }
  return of_kind(diagnosis.findings(), "copies-see-different-data");
}

TEST(DiagnoseDifferentData, ChannelsThatShiftApartAreFoundWhereTheirMeanIsNot) {
  for (uint32_t seed = 1; seed <= 20; ++seed)
    EXPECT_TRUE(channels_apart(0, 0.3, seed).empty()) << "seed " << seed;
  const auto found = channels_apart(0.5, 0.3, 5);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].series, std::vector<SeriesKey>{SeriesKey::copy(1)});
  EXPECT_EQ(found[0].channels, std::vector<int64_t>{0});  // the first to pass, then channel 1
  EXPECT_EQ(found[0].first_step, 32);
  EXPECT_NE(found[0].evidence.find("copy 1 at 'layer0', channel 0: mean u +0."), std::string::npos)
      << found[0].evidence;
  EXPECT_NE(found[0].evidence.find("1 layer and 2 channels in all"), std::string::npos)
      << found[0].evidence;
  // Bonferroni over 2 copies x (the mean over channels + 16 channels) x the windows so far.
  const auto at = found[0].evidence.find("Bonferroni over ");
  ASSERT_NE(at, std::string::npos) << found[0].evidence;
  EXPECT_EQ(std::stoi(found[0].evidence.substr(at + 16)) % 34, 0) << found[0].evidence;
}

TEST(DiagnoseDifferentData, UnsynchronizedRunsTestTheirFirstLayerOnly) {
  EXPECT_TRUE(different_data(0.3, 0.2, 7, false, 64, {1}, 2).empty());
  EXPECT_EQ(different_data(0.3, 0.2, 7, false, 64, {0}, 2).size(), 1u);
}

TEST(DiagnoseDifferentData, RanksWhenThereAreSeveralProcesses) {
  const auto found = different_data(0.3, 0.2, 7, true, 64, {0}, 1, /*processes=*/2);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].series, std::vector<SeriesKey>{SeriesKey::rank(1)});
}

// Live records of 2 copies whose channel means stray from the whole batch's by u (in its sigmas),
// to one side at odd steps and the other at even ones (noise around 0: its sd over 10 steps is
// u x sqrt(10 / 9)), or always to the same side (`persistent`: a shift, no noise); `count` values
// per channel each, over `steps` steps.
std::vector<diagnose::Finding> spread(double u, bool synchronized, int64_t count = 32,
                                      int steps = 10, bool persistent = false) {
  diagnose::Diagnosis diagnosis(facts(synchronized, 2, 1, 16));
  for (int step = 1; step <= steps; ++step) {
    StepRecord record;
    record.step = step;
    record.loss = 1.0;
    for (const char* name : {"features.1", "head.2"}) {
      LayerStats layer;
      layer.layer = name;
      layer.count = 2 * count;
      layer.mean = {1, 1, 1, 1};
      layer.var = {4, 4, 4, 4};
      const double sigma = std::sqrt(4 + 1e-5) * (step % 2 || persistent ? 1 : -1);
      layer.copies = {{0, count, std::vector<double>(4, 1 + u * sigma), {4, 4, 4, 4}},
                      {1, count, std::vector<double>(4, 1 - u * sigma), {4, 4, 4, 4}}};
      record.layers.push_back(layer);
    }
    diagnosis.observe(diagnose::evidence_of(record));
  }
  return of_kind(diagnosis.findings(), "small-per-copy-batch");
}

TEST(DiagnoseSmallPerCopyBatch, ANoteFrom005AWarningFrom02) {
  const auto note = spread(0.12, false);
  ASSERT_EQ(note.size(), 1u);
  EXPECT_EQ(note[0].severity, Severity::kNote);
  EXPECT_EQ(note[0].first_step, 3);  // the third step with every channel
  EXPECT_EQ(note[0].last_step, 10);
  EXPECT_NE(note[0].evidence.find("sd of u 0.126 at 'features.1', 0.126 at 'head.2' with 8 "
                                  "samples per copy"),
            std::string::npos)
      << note[0].evidence;
  const auto warning = spread(0.3, false);
  ASSERT_EQ(warning.size(), 1u);
  EXPECT_EQ(warning[0].severity, Severity::kWarning);
  EXPECT_TRUE(spread(0.03, false).empty());
  EXPECT_TRUE(spread(0.3, true).empty());  // synchronized layers use the whole batch
  // A shift that persists is no noise of few samples (copies-see-different-data's).
  EXPECT_TRUE(spread(0.3, false, 32, 10, true).empty());
}

TEST(DiagnoseSmallPerCopyBatch, AnErrorWhereACopyHoldsOneValuePerChannel) {
  const auto found = spread(0.01, false, /*count=*/1);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, Severity::kError);
  EXPECT_EQ(found[0].layer, "features.1");
  EXPECT_EQ(found[0].series, (std::vector<SeriesKey>{SeriesKey::copy(0), SeriesKey::copy(1)}));
  EXPECT_EQ(found[0].first_step, 1);
}

TEST(DiagnoseSmallPerCopyBatch, ANoteThatGrowsIntoAWarningIsNewAgain) {
  diagnose::Diagnosis diagnosis(facts(false, 2, 1, 16));
  auto observe = [&](int step, double u) {
    StepRecord record;
    record.step = step;
    LayerStats layer;
    layer.layer = "features.1";
    layer.mean = {0};
    layer.var = {1};
    layer.copies = {{0, 8, {u}, {1}}, {1, 8, {-u}, {1}}};
    record.layers = {layer};
    diagnosis.observe(diagnose::evidence_of(record));
  };
  // Noise around 0: to one side at odd steps, to the other at even ones.
  for (int step = 1; step <= 3; ++step) observe(step, step % 2 ? 0.1 : -0.1);
  ASSERT_EQ(of_kind(diagnosis.new_findings(), "small-per-copy-batch").size(), 1u);
  for (int step = 4; step <= 40; ++step) observe(step, step % 2 ? 0.5 : -0.5);
  const auto grown = of_kind(diagnosis.new_findings(), "small-per-copy-batch");
  ASSERT_EQ(grown.size(), 1u);
  EXPECT_EQ(grown[0].severity, Severity::kWarning);
}

}  // namespace
}  // namespace replicascope::testing
