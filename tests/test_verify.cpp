// SPDX-License-Identifier: MIT
// verify(): synchronized training against the unconverted model on the whole batch, judged
// against the reference's own noise floor; randomness found in the graphs and switched off; the
// negative control; and a deliberately broken synchronization, which it must catch.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "replicascope/nn/fault_injection.h"
#include "replicascope/torchscript/module_file.h"
#include "replicascope/verify/randomness.h"
#include "replicascope/verify/verify.h"
#include "test_util.h"

namespace {

using replicascope::Verdict;
using replicascope::VerifyOptions;
using replicascope::VerifyReport;
using replicascope::testing::cpu_copies;
using replicascope::testing::expect_throw_containing;
using replicascope::testing::fixture;

VerifyOptions options_for(int copies, std::vector<int64_t> shape, int steps = 2,
                          torch::ScalarType dtype = torch::kDouble) {
  VerifyOptions options;
  options.devices = cpu_copies(copies);
  options.input_shape = std::move(shape);
  options.steps = steps;
  options.dtype = dtype;
  return options;
}

std::string report_text(const VerifyReport& report) {
  std::string out = std::string(to_string(report.verdict)) + ":";
  for (const auto& d : report.differences) {
    out += " " + d.quantity + " " + std::to_string(d.max_rel) + " (floor " +
           std::to_string(d.noise_floor) + ", " + to_string(d.verdict) + ", " + d.worst + ");";
  }
  return out;
}

// The fixtures, each with an input it takes.
struct Fixture {
  std::string model;
  std::vector<int64_t> shape;
  int steps;
  friend void PrintTo(const Fixture& f, std::ostream* out) { *out << f.model; }
};
const Fixture kMlp{"mlp", {8, 16}, 3}, kReused{"reused_bn", {8, 3, 6, 6}, 3},
    kResnet{"resnet18", {8, 3, 32, 32}, 2}, kMobilenet{"mobilenet_v2", {8, 3, 32, 32}, 2},
    kR3d{"r3d_18", {8, 3, 1, 16, 16}, 2}, kNoisy{"noisy", {8, 3, 6, 6}, 3};

std::string case_name(const Fixture& f, int copies) {
  return f.model + "_" + std::to_string(copies);
}

// float64 for every fixture at N = 1, 2, 4 (the second step split unevenly): equal, each
// quantity within the fixed tolerance (the noise floor is not needed in float64 here).
class VerifyFixture : public ::testing::TestWithParam<std::tuple<Fixture, int>> {};

TEST_P(VerifyFixture, SynchronizedTrainingEqualsFullBatchTraining) {
  const auto& [f, copies] = GetParam();
  const auto report =
      replicascope::verify(fixture(f.model + ".pt"), options_for(copies, f.shape, f.steps));
  ASSERT_EQ(report.splits.size(), static_cast<size_t>(f.steps));
  if (copies > 1) {
    EXPECT_NE(report.splits[1].front(), report.splits[1].back()) << "the second step is uneven";
  }
  for (const auto& d : report.differences) {
    EXPECT_GT(d.compared, 0) << d.quantity;
    EXPECT_TRUE(d.passed() && !d.floor_decides())
        << f.model << " on " << copies << " copies: " << d.quantity << " max_rel " << d.max_rel
        << " (floor " << d.noise_floor << ") at " << d.worst;
    EXPECT_LT(d.noise_floor, 1e-9) << d.quantity << ": float64 rounding barely moves these";
  }
  EXPECT_EQ(report.verdict, Verdict::kEqual);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, VerifyFixture,
    ::testing::Combine(::testing::Values(kMlp, kReused, kResnet, kMobilenet, kR3d, kNoisy),
                       ::testing::Values(1, 2, 4)),
    [](const auto& info) { return case_name(std::get<0>(info.param), std::get<1>(info.param)); });

// float32 on every fixture at 2 and 4 copies: never a false alarm. Where rounding is amplified
// past the fixed tolerance the noise floor decides, or the answer is inconclusive; the small
// well-conditioned ones are plainly equal.
class VerifyFloat32 : public ::testing::TestWithParam<std::tuple<Fixture, int>> {};

TEST_P(VerifyFloat32, NeverCriesWolf) {
  const auto& [f, copies] = GetParam();
  const auto report = replicascope::verify(fixture(f.model + ".pt"),
                                           options_for(copies, f.shape, f.steps, torch::kFloat));
  EXPECT_EQ(report.dtype, "float32");
  EXPECT_NE(report.verdict, Verdict::kDiffers) << report_text(report);
  if (f.model == "mlp" || f.model == "reused_bn") {
    EXPECT_EQ(report.verdict, Verdict::kEqual) << report_text(report);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, VerifyFloat32,
    ::testing::Combine(::testing::Values(kMlp, kReused, kResnet, kMobilenet, kR3d, kNoisy),
                       ::testing::Values(2, 4)),
    [](const auto& info) { return case_name(std::get<0>(info.param), std::get<1>(info.param)); });

// Randomness that is no Dropout module is found in the graphs and follows the right flags.
TEST(Randomness, FoundInTheGraphsWhereverTheForwardDraws) {
  const auto module = replicascope::script::load_module(fixture("noisy.pt"));
  const auto draws = replicascope::script::find_random_draws(module);
  std::vector<std::string> found;
  for (const auto& d : draws) {
    EXPECT_TRUE(d.can_be_switched_off()) << d.module << " " << d.operation;
    found.push_back((d.module.empty() ? "(root)" : d.module) + " " + d.operation);
  }
  const auto has = [&](const std::string& what) {
    return std::any_of(found.begin(), found.end(),
                       [&](const std::string& f) { return f.rfind(what, 0) == 0; });
  };
  EXPECT_TRUE(has("act aten::rrelu")) << ::testing::PrintToString(found);
  EXPECT_TRUE(has("depth aten::bernoulli")) << ::testing::PrintToString(found);
  EXPECT_TRUE(has("(root) aten::randn_like")) << ::testing::PrintToString(found);
  EXPECT_TRUE(has("(root) aten::dropout")) << ::testing::PrintToString(found);
  EXPECT_EQ(replicascope::script::modules_to_switch_off(draws),
            (std::vector<std::string>{"", "act", "depth"}));
  // Dropout modules are found the same way; models that draw nothing have no draws.
  const auto mobilenet = replicascope::script::find_random_draws(
      replicascope::script::load_module(fixture("mobilenet_v2.pt")));
  ASSERT_EQ(mobilenet.size(), 1u);
  EXPECT_EQ(mobilenet[0].follows, std::vector<std::string>{"classifier.0"});
  EXPECT_TRUE(replicascope::script::find_random_draws(
                  replicascope::script::load_module(fixture("resnet18.pt")))
                  .empty());
}

TEST(Verify, SwitchesOffRandomnessAndSaysSo) {
  const auto report = replicascope::verify(fixture("noisy.pt"), options_for(2, {8, 3, 6, 6}));
  EXPECT_EQ(report.verdict, Verdict::kEqual) << report_text(report);
  EXPECT_EQ(report.switched_off.size(), 4u) << ::testing::PrintToString(report.switched_off);
}

TEST(Verify, RefusesRandomnessNoFlagSwitchesOff) {
  expect_throw_containing<std::invalid_argument>(
      [] {
        replicascope::verify(fixture("always_noisy.pt"), options_for(2, {8, 16}));
      },
      "the model's forward draws random numbers with aten::randn_like whatever its training "
      "flag says");
}

// A model that amplifies rounding past the fixed tolerance, in PyTorch's BatchNorm as in ours:
// the noise floor decides, and the report names the layer.
TEST(Verify, NoiseFloorDecidesOnAnIllConditionedModel) {
  for (const auto dtype : {torch::kDouble, torch::kFloat}) {
    const auto report =
        replicascope::verify(fixture("ill_conditioned.pt"), options_for(2, {8, 16}, 3, dtype));
    EXPECT_EQ(report.verdict, Verdict::kEqual) << report.dtype << " " << report_text(report);
    EXPECT_TRUE(std::any_of(report.differences.begin(), report.differences.end(),
                            [](const auto& d) { return d.floor_decides(); }))
        << report.dtype << " " << report_text(report);
    EXPECT_EQ(report.ill_conditioned.layer, "bn");
    EXPECT_GT(report.ill_conditioned.amplification(), 1e3);
  }
}

// So ill-conditioned that the reference moves from itself by more than 1e-2: inconclusive, the
// honest third answer, with the reason.
TEST(Verify, InconclusiveWhereTheReferenceIsChaotic) {
  for (const auto dtype : {torch::kDouble, torch::kFloat}) {
    const auto report =
        replicascope::verify(fixture("chaotic.pt"), options_for(2, {8, 16}, 2, dtype));
    EXPECT_EQ(report.verdict, Verdict::kInconclusive) << report.dtype << " " << report_text(report);
    EXPECT_NE(report.reason.find("moves from itself by more than"), std::string::npos)
        << report.reason;
  }
}

// The negative control: per-copy BatchNorm must differ wherever a BatchNorm sees several copies.
TEST(Verify, PerCopyBatchNormDiffersWhereBatchNormSeesSeveralCopies) {
  for (const auto& f : {kMlp, kReused, kResnet}) {
    auto options = options_for(2, f.shape, 1);
    options.per_copy = true;
    const auto report = replicascope::verify(fixture(f.model + ".pt"), options);
    EXPECT_TRUE(report.per_copy);
    EXPECT_EQ(report.verdict, Verdict::kDiffers) << f.model << " " << report_text(report);
  }
  auto options = options_for(2, {8, 16}, 1);
  options.per_copy = true;
  EXPECT_EQ(replicascope::verify(fixture("no_batchnorm.pt"), options).verdict, Verdict::kEqual);
  // A copy of one sample: per-copy BatchNorm cannot run what synchronized BatchNorm can.
  auto one_sample = options_for(4, {5, 16}, 1);
  one_sample.per_copy = true;
  const auto cannot = replicascope::verify(fixture("mlp.pt"), one_sample);
  EXPECT_EQ(cannot.verdict, Verdict::kDiffers);
  EXPECT_NE(cannot.reason.find("per-copy BatchNorm cannot run step 1: "), std::string::npos)
      << cannot.reason;
  one_sample.per_copy = false;
  const auto synchronized = replicascope::verify(fixture("mlp.pt"), one_sample);
  EXPECT_EQ(synchronized.verdict, Verdict::kEqual) << report_text(synchronized);
  EXPECT_NE(synchronized.per_copy_error.find("expected more than 1 value per channel"),
            std::string::npos)
      << synchronized.per_copy_error;
  // Without --unsync the report says how far per-copy BatchNorm would have been.
  const auto report = replicascope::verify(fixture("mlp.pt"), options_for(2, {8, 16}, 1));
  EXPECT_GT(report.per_copy_outputs, 1e-2);
  EXPECT_LT(
      replicascope::verify(fixture("no_batchnorm.pt"), options_for(2, {8, 16}, 1)).per_copy_outputs,
      1e-12);
}

// Broken synchronization (the last copy's statistics left out) is caught in float64 and
// float32: the noise floor cannot hide a real error.
TEST(Verify, CatchesABrokenSynchronization) {
  struct Restore {
    ~Restore() { replicascope::nn::testing::drop_last_copy_statistics(false); }
  } restore;
  replicascope::nn::testing::drop_last_copy_statistics(true);
  for (const auto dtype : {torch::kDouble, torch::kFloat}) {
    for (int copies : {2, 4}) {
      for (const auto& f : {kMlp, kResnet}) {
        const auto report =
            replicascope::verify(fixture(f.model + ".pt"), options_for(copies, f.shape, 1, dtype));
        EXPECT_EQ(report.verdict, Verdict::kDiffers) << f.model << " at " << copies << " copies in "
                                                     << report.dtype << ": " << report_text(report);
      }
    }
  }
}

TEST(Verify, NotFiniteIsAFailureNamed) {
  auto options = options_for(2, {8, 16}, 2);
  options.learning_rate = std::nan("");
  const auto report = replicascope::verify(fixture("mlp.pt"), options);
  EXPECT_EQ(report.verdict, Verdict::kDiffers);
  const auto outputs = report.differences.front();
  EXPECT_FALSE(outputs.finite);
  EXPECT_NE(outputs.worst.find("not finite in the reference"), std::string::npos) << outputs.worst;
}

TEST(Verify, RefusesBadOptions) {
  auto options = options_for(2, {8});
  expect_throw_containing<std::invalid_argument>(
      [&] { replicascope::verify(fixture("mlp.pt"), options); }, "B,C,...");
  options.input_shape = {8, 16};
  options.dtype = torch::kHalf;
  expect_throw_containing<std::invalid_argument>(
      [&] { replicascope::verify(fixture("mlp.pt"), options); }, "float32 or float64");
  options.dtype = torch::kDouble;
  options.input_shape = {8, 15};  // the model takes 16 features
  EXPECT_THROW(replicascope::verify(fixture("mlp.pt"), options), std::exception);
}

}  // namespace

namespace {

// Without BatchNorm nothing is synchronized: the report says so instead of rows that compare
// nothing ("running stats (not run ...)") and an "equals" that means nothing, with or without
// the negative control.
TEST(Verify, AModelWithoutBatchNormHasNothingToSynchronize) {
  for (const bool per_copy : {false, true}) {
    auto options = options_for(2, {4, 16});
    options.per_copy = per_copy;
    const auto path = fixture("no_batchnorm.pt");
    const auto report = replicascope::verify(path, options);
    EXPECT_TRUE(report.nothing_to_synchronize);
    EXPECT_TRUE(report.differences.empty()) << report_text(report);
    EXPECT_TRUE(report.splits.empty());
    EXPECT_EQ(report.verdict, Verdict::kEqual);
    EXPECT_EQ(report.reason,
              "the model '" + path +
                  "' has no BatchNorm layer (expected BatchNorm1d, BatchNorm2d or BatchNorm3d): "
                  "there is nothing to synchronize: synchronized and per-copy training are both "
                  "plain data parallelism, and nothing was compared");
  }
  EXPECT_FALSE(
      replicascope::verify(fixture("mlp.pt"), options_for(2, {4, 16})).nothing_to_synchronize);
}

// An input past the memory the process can have is refused from its arithmetic, before any
// model is loaded or any tensor allocated.
TEST(Verify, AnInputPastMemoryIsRefusedUpFront) {
  auto options = options_for(2, {64, 3, 20000, 20000});
  expect_throw_containing<std::invalid_argument>(
      [&] { replicascope::verify(fixture("mlp.pt"), options); },
      "verify: an input of 64x3x20000x20000 in float64 takes 614 GB alone, but the process can "
      "have ");
}

}  // namespace
