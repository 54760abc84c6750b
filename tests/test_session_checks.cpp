// SPDX-License-Identifier: MIT
// What make_session refuses before the first step, and how it says so: a model that cannot take
// the data (with a proposal that a forward was seen to take, or why none helps), a run of a
// model without BatchNorm, a batch past the memory the process can have.
#include <gtest/gtest.h>

#include <filesystem>

#include "image_files.h"
#include "replicascope/engine/batch_memory.h"
#include "replicascope/engine/input_check.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/engine/session_factory.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace replicascope;
using engine::SessionSpec;
using replicascope::testing::expect_throw_containing;

SessionSpec small_spec(const std::string& model, const std::vector<int64_t>& image) {
  SessionSpec spec;
  spec.model = model.empty() ? "" : replicascope::testing::fixture(model);
  spec.data = "synthetic";
  spec.image = image;
  spec.devices = "cpu:2";
  spec.batch = 4;
  return spec;
}

// The mismatch make_session throws for `spec`; fails the test when it throws none.
engine::ModelDataMismatch mismatch_of(const SessionSpec& spec) {
  try {
    engine::make_session(spec);
  } catch (const engine::ModelDataMismatch& e) {
    return e;
  }
  ADD_FAILURE() << "expected ModelDataMismatch";
  return engine::ModelDataMismatch("", {});
}

// The proposal is applied to the spec and must open and train: it was checked, not guessed.
void expect_proposal_trains(SessionSpec spec, const engine::ModelDataMismatch& e) {
  engine::apply_proposal(spec, e.proposal());
  auto built = engine::make_session(spec);
  EXPECT_TRUE(std::isfinite(built.session->step().loss)) << e.what();
}

void expect_contains(const std::string& what, const std::string& part) {
  EXPECT_NE(what.find(part), std::string::npos) << what;
}

TEST(SessionChecks, TheDemoIsProposedItsOwnSizeNotTheFailingOne) {
  // Its Linear after the flatten takes 16x7x7: 784 of the 1024 features 32x32 gives.
  const auto spec = small_spec("", {1, 32, 32});
  const auto e = mismatch_of(spec);
  EXPECT_EQ(std::string(e.what()),
            "the model's forward fails on 2 samples of 1x32x32 from the data 'synthetic': mat1 "
            "and mat2 shapes cannot be multiplied (2x1024 and 784x64). Try --data synthetic "
            "--image 1,28,28, or data of that layout.");
  EXPECT_EQ(e.proposal().image, (std::vector<int64_t>{1, 28, 28}));
  expect_proposal_trains(spec, e);
}

TEST(SessionChecks, PoolingTooLargeForTheSamplesGetsLargerSamples) {
  SKIP_IN_SANITIZED_BUILD("the scripted fixtures (make_fixtures)");
  // AvgPool2d(8) on 4x4: a larger H,W, checked; never the 3,4,4 that failed.
  auto spec = small_spec("fixed_pool.pt", {3, 4, 4});
  spec.classes = 5;
  auto e = mismatch_of(spec);
  expect_contains(e.what(), "Output size is too small");
  expect_contains(e.what(), ". Try --data synthetic --image 3,8,8, or data of that layout.");
  EXPECT_EQ(std::string(e.what()).find("--image 3,4,4"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find(" . Try"), std::string::npos) << e.what();
  expect_proposal_trains(spec, e);
  // AvgPool3d((4, 8, 8)) on 2 frames of 32x32: only the clip's length grows.
  spec = small_spec("fixed_pool3d.pt", {3, 2, 32, 32});
  spec.classes = 5;
  spec.devices = "cpu:1";
  spec.batch = 2;
  e = mismatch_of(spec);
  expect_contains(e.what(), "Try --data synthetic --image 3,4,32,32, or data of that layout.");
  expect_proposal_trains(spec, e);
}

TEST(SessionChecks, WhereNoShapeHelpsItSaysWhatElseIsWrong) {
  SKIP_IN_SANITIZED_BUILD("the scripted fixtures (make_fixtures)");
  // A tuple without a [batch, outputs] tensor: no data makes one (a tuple that holds one trains
  // on it, test_model_output.cpp).
  auto spec = small_spec("no_scores.pt", {16});
  auto e = mismatch_of(spec);
  expect_contains(e.what(),
                  "no element of the tuple is a [batch, outputs] tensor (batch 2): element 0 is "
                  "[2, 3, 4], element 1 is None. No change of data can help: forward() must "
                  "return a tensor of [batch, outputs], a score per class, or a tuple or list "
                  "holding one.");
  EXPECT_EQ(std::string(e.what()).find("Try "), std::string::npos) << e.what();
  EXPECT_TRUE(e.proposal().flags().empty());
  // resnet18 on 1 channel: the channels are what is wrong; at the data's own size, 3,28,28 fits.
  spec = small_spec("resnet18.pt", {1, 28, 28});
  e = mismatch_of(spec);
  expect_contains(e.what(),
                  "conv1 expects 3 input channels; the data 'synthetic' has 1 (samples "
                  "of 1x28x28). Try --data synthetic --image 3,28,28, or data of that "
                  "layout.");
}

TEST(SessionChecks, AnImageFolderIsProposedAnImageShapeThatFits) {
  // 8x8 RGB images: the demo takes 1 channel at 28x28, which a folder scales its images to.
  const auto dir = fs::temp_directory_path() / ("rs_checks_folder_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  for (const char* label : {"a", "b"}) {
    fs::create_directories(dir / label);
    for (int i = 0; i < 2; ++i) {
      const auto pixels = torch::randint(0, 256, {8, 8, 3}, torch::kUInt8);
      replicascope::testing::write_png((dir / label / (std::to_string(i) + ".png")).string(),
                                       pixels);
    }
  }
  auto spec = small_spec("", {});
  spec.data = "imagefolder:" + dir.string();
  const auto e = mismatch_of(spec);
  expect_contains(e.what(), "samples of 3x8x8 from the data");
  expect_contains(e.what(), ". Try --image 1,28,28, or data of that layout.");
  EXPECT_TRUE(e.proposal().data.empty()) << "the folder stays: it scales to any C,H,W";
  expect_proposal_trains(spec, e);
  fs::remove_all(dir);
}

TEST(SessionChecks, ARunOfAModelWithoutBatchNormIsRefusedAndNoFileIsLeft) {
  SKIP_IN_SANITIZED_BUILD("the scripted fixtures (make_fixtures)");
  auto spec = small_spec("no_batchnorm.pt", {16});
  spec.classes = 4;
  spec.run =
      (fs::temp_directory_path() / ("rs_no_bn_" + std::to_string(::getpid()) + ".sqlite")).string();
  expect_throw_containing<UsageError>(
      [&] { engine::make_session(spec); },
      "--run: the model '" + spec.model +
          "' has no BatchNorm layer (expected BatchNorm1d, BatchNorm2d or BatchNorm3d): there is "
          "nothing to synchronize and no statistics to record; leave --run out to train it "
          "anyway");
  EXPECT_FALSE(fs::exists(spec.run));
  // Without --run it trains, as plain data parallelism.
  spec.run.clear();
  auto built = engine::make_session(spec);
  EXPECT_FALSE(has_batch_norm(built.modules));
  EXPECT_TRUE(std::isfinite(built.session->step().loss));
}

TEST(SessionChecks, ABatchPastTheMemoryIsRefusedWithTheArithmetic) {
  // 2 samples kept 78 KB for the backward: a batch of 1000000 needs at least 39 GB.
  const engine::ForwardMemory forward{2, 78000};
  EXPECT_DOUBLE_EQ(engine::batch_memory_bytes(forward, 1000000), 39e9);
  expect_throw_containing<UsageError>(
      [&] {
        engine::check_batch_fits_memory(forward, 1000000, {21.3e9, "MemAvailable"});
      },
      "--batch 1000000: a batch of 1000000 needs at least 39.0 GB (2 samples kept 78.0 KB in "
      "the forward for the backward, x 500000, x 1.0 for backward) but the process can have "
      "21.3 GB (MemAvailable); expected a --batch of at most 546153");
  // Within the bound, or with no bound known: never refused.
  engine::check_batch_fits_memory(forward, 546153, {21.3e9, "MemAvailable"});
  engine::check_batch_fits_memory(forward, 1000000, {});
  // The check's forward measures what the demo keeps: at least its first convolution's
  // output, 8 channels of 28x28 floats a sample.
  auto spec = small_spec("", {1, 28, 28});
  const auto dataset = engine::load_data("synthetic", spec.image, 0, 4);
  const auto model = engine::demo_model(10)(false);
  const auto measured = engine::check_model_fits_data(*model, *dataset);
  EXPECT_EQ(measured.samples, 2);
  EXPECT_GE(measured.kept_bytes, 2 * 8 * 28 * 28 * 4);
  EXPECT_TRUE(model->is_training()) << "the check's eval mode is undone";
}

}  // namespace
