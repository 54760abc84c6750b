// SPDX-License-Identifier: MIT
// SynchronizedBatchNorm against LibTorch's own BatchNorm on the whole batch on one device.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "replicascope/nn/batchnorm_kernels.h"
#include "replicascope/replicascope.h"
#include "test_util.h"

using namespace replicascope;
using replicascope::testing::cpu_copies;
using replicascope::testing::max_abs_diff;

namespace {

struct Case {
  std::string name;
  int dims;                    // 1, 2 or 3 (the BatchNorm kind)
  std::vector<int64_t> shape;  // whole-batch input shape
  int copies;
  std::vector<int64_t> chunks;  // empty: even split
  bool affine = true;
  c10::optional<double> momentum = 0.1;
  int steps = 3;
  bool track_running_stats = true;
};

template <class Sync, class Plain>
void run_case(const Case& c) {
  SCOPED_TRACE(c.name);
  torch::manual_seed(1234);
  const int64_t channels = c.shape[1];
  auto bn_options = torch::nn::BatchNormOptions(channels)
                        .affine(c.affine)
                        .momentum(c.momentum)
                        .track_running_stats(c.track_running_stats);
  Plain plain(bn_options);
  Sync sync(nn::SynchronizedBatchNormOptions::from(bn_options));
  if (c.affine) {  // non-trivial parameters, the same on both
    torch::NoGradGuard no_grad;
    plain->weight.uniform_(0.5, 1.5);
    plain->bias.uniform_(-0.5, 0.5);
    sync->weight.copy_(plain->weight);
    sync->bias.copy_(plain->bias);
  }
  DataParallelWithCallback<typename Sync::ContainedType> parallel(
      sync.ptr(), DataParallelOptions(cpu_copies(c.copies))
                      .chunk_sizes(c.chunks)
                      .empty_copies(EmptyCopies::kRun));
  const double lr = 0.1;
  for (int step = 0; step < c.steps; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const auto x = (torch::randn(c.shape) * 2 + 0.5).requires_grad_(true);
    const auto x_ref = x.detach().clone().requires_grad_(true);
    const auto upstream = torch::randn(c.shape);
    const auto y_ref = plain->forward(x_ref);
    (y_ref * upstream).sum().backward();
    const auto y = parallel(x);
    (y * upstream).sum().backward();

    const double tol = 1e-5;
    EXPECT_TENSOR_NEAR(y, y_ref, tol, "output");
    EXPECT_TENSOR_NEAR(x.grad(), x_ref.grad(), tol, "input grad");
    if (c.affine) {
      EXPECT_TENSOR_NEAR(sync->weight.grad(), plain->weight.grad(), tol, "weight grad");
      EXPECT_TENSOR_NEAR(sync->bias.grad(), plain->bias.grad(), tol, "bias grad");
    }
    EXPECT_TENSOR_NEAR(sync->running_mean, plain->running_mean, tol, "running_mean");
    EXPECT_TENSOR_NEAR(sync->running_var, plain->running_var, tol, "running_var");
    if (c.track_running_stats) {
      EXPECT_EQ(sync->num_batches_tracked.template item<int64_t>(),
                plain->num_batches_tracked.template item<int64_t>());
    }

    torch::NoGradGuard no_grad;  // one SGD step on both
    for (auto* m : {static_cast<torch::nn::Module*>(plain.get()),
                    static_cast<torch::nn::Module*>(sync.get())}) {
      for (auto& p : m->parameters()) {
        p.sub_(p.grad() * lr);
        p.grad().zero_();
      }
    }
  }
  // Eval mode uses the running statistics, the same on both.
  plain->eval();
  sync->eval();
  const auto x = torch::randn(c.shape);
  EXPECT_TENSOR_NEAR(parallel(x), plain->forward(x), 1e-5, "eval output");
}

void run(const Case& c) {
  switch (c.dims) {
    case 1:
      return run_case<nn::SynchronizedBatchNorm1d, torch::nn::BatchNorm1d>(c);
    case 2:
      return run_case<nn::SynchronizedBatchNorm2d, torch::nn::BatchNorm2d>(c);
    default:
      return run_case<nn::SynchronizedBatchNorm3d, torch::nn::BatchNorm3d>(c);
  }
}

}  // namespace

class Equivalence : public ::testing::TestWithParam<int> {};

TEST_P(Equivalence, MatchesBatchNormOnTheWholeBatch) {
  const int n = GetParam();
  const std::string tag = "N=" + std::to_string(n);
  run({tag + " 1d 2D input", 1, {8 * n, 6}, n, {}});
  run({tag + " 1d 3D input", 1, {2 * n, 5, 7}, n, {}});
  run({tag + " 2d", 2, {2 * n, 4, 5, 6}, n, {}});
  run({tag + " 3d", 3, {2 * n, 3, 3, 4, 5}, n, {}});
  run({tag + " 2d affine off", 2, {2 * n, 4, 5, 6}, n, {}, /*affine=*/false});
  run({tag + " 2d momentum unset", 2, {2 * n, 4, 5, 6}, n, {}, true, c10::nullopt});
  run({tag + " 2d no running stats", 2, {2 * n, 4, 5, 6}, n, {}, true, 0.1, 3, false});
  // A per-copy batch of 1: fine while the total count is over 1 (at N = 1, a batch of 1 in 1d
  // is a total of 1, an error for BatchNorm too; see TotalCountOfOneIsAClearError).
  if (n > 1) run({tag + " 1d per-copy batch 1", 1, {n, 6}, n, {}, true, 0.1, 2});
  run({tag + " 2d per-copy batch 1", 2, {n, 3, 2, 2}, n, {}});
}

INSTANTIATE_TEST_SUITE_P(Copies, Equivalence, ::testing::Values(1, 2, 3, 4, 8));

TEST(Equivalence, UnevenSplitsWithAnEmptyCopy) {
  run({"2d uneven", 2, {10, 4, 3, 3}, 4, {3, 0, 2, 5}});
  run({"1d uneven", 1, {9, 5}, 3, {0, 7, 2}});
  run({"3d uneven momentum unset", 3, {5, 2, 2, 3, 3}, 3, {1, 4, 0}, true, c10::nullopt});
  // Not a total of 2: with two values per channel the input gradient is exactly 0 and both sides
  // would compare rounding noise.
  run({"1d batch 1 and empty", 1, {3, 4}, 3, {1, 0, 2}});
}

// The generic (ATen) kernels, which CUDA takes, agree with the hand-written CPU ones.
TEST(Kernels, GenericPathMatchesCpuPath) {
  torch::manual_seed(3);
  const auto x = torch::randn({6, 5, 4, 3}) * 3 + 1;
  const auto dy = torch::randn({6, 5, 4, 3});
  const auto weight = torch::rand({5}) + 0.5;
  const auto bias = torch::randn({5});
  auto compute = [&] {
    const auto m = nn::kernels::local_moments(x);
    const auto var = m.m2 / static_cast<double>(m.count);
    const auto invstd = (var + 1e-5).rsqrt();
    const auto y = nn::kernels::normalize(x, m.mean, invstd, weight, bias);
    const auto sums = nn::kernels::backward_sums(dy, x, m.mean, invstd);
    const auto dx = nn::kernels::backward_input(dy, x, m.mean, invstd, weight, sums, m.count);
    const auto dx_unused =
        nn::kernels::backward_input({}, x, m.mean, invstd, weight, sums, m.count);
    return std::vector<torch::Tensor>{m.mean, m.m2, y, sums, dx, dx_unused};
  };
  const auto fast = compute();
  nn::kernels::force_generic_path(true);
  const auto generic = compute();
  nn::kernels::force_generic_path(false);
  const char* names[] = {"mean", "m2", "y", "sums", "dx", "dx without dy"};
  for (size_t i = 0; i < fast.size(); ++i) EXPECT_TENSOR_NEAR(fast[i], generic[i], 1e-5, names[i]);
}

TEST(Kernels, ChanMergeEqualsMomentsOfTheWhole) {
  torch::manual_seed(5);
  const auto x = torch::randn({13, 3, 4}, torch::kDouble) * 7 + 100;
  const auto whole = nn::kernels::local_moments(x);
  std::vector<nn::kernels::Moments> parts;
  for (const auto& chunk : x.split_with_sizes({5, 0, 1, 7}))
    parts.push_back(nn::kernels::local_moments(chunk));
  const auto merged = nn::kernels::merge_moments(parts, torch::kCPU);
  EXPECT_EQ(merged.count, whole.count);
  EXPECT_TENSOR_NEAR(merged.mean, whole.mean, 1e-10, "mean");
  EXPECT_TENSOR_NEAR(merged.m2, whole.m2, 1e-8, "m2");
  // And the reference: float64 mean and variance of the whole.
  const auto ref_var = x.transpose(0, 1).reshape({3, -1}).var(1, /*unbiased=*/false);
  EXPECT_TENSOR_NEAR(merged.m2 / merged.count, ref_var, 1e-9, "var");
}

// Mean 1e4, std 1e-2: sum and sum of squares would cancel to noise. The synchronized result
// must be as close to a float64 reference as single-device BatchNorm is.
TEST(Precision, LargeMeanSmallSpread) {
  torch::manual_seed(11);
  const auto x = torch::randn({32, 4, 6, 6}) * 1e-2 + 1e4;  // float32
  const auto upstream = torch::randn({32, 4, 6, 6});
  auto run_plain = [&](torch::ScalarType dtype) {
    torch::nn::BatchNorm2d bn(4);
    bn->to(dtype);
    auto input = x.detach().clone().to(dtype).requires_grad_(true);
    auto y = bn->forward(input);
    (y * upstream.to(dtype)).sum().backward();
    return std::vector<torch::Tensor>{y.detach(), input.grad(), bn->running_var.clone()};
  };
  const auto reference = run_plain(torch::kDouble);
  const auto single = run_plain(torch::kFloat);

  nn::SynchronizedBatchNorm2d sync(4);
  DataParallelWithCallback<nn::SynchronizedBatchNorm2dImpl> parallel(sync.ptr(), cpu_copies(4));
  auto input = x.clone().requires_grad_(true);
  auto y = parallel(input);
  (y * upstream).sum().backward();
  const std::vector<torch::Tensor> synced{y.detach(), input.grad(), sync->running_var.clone()};

  const char* names[] = {"output", "input grad", "running_var"};
  for (size_t i = 0; i < synced.size(); ++i) {
    const double single_error = max_abs_diff(single[i], reference[i]);
    const double sync_error = max_abs_diff(synced[i], reference[i]);
    // Relative to the magnitude, so a quantity of any scale is judged the same way.
    const double scale = reference[i].abs().max().item<double>() + 1e-30;
    EXPECT_LE(sync_error / scale, std::max(single_error / scale, 1e-6))
        << names[i] << ": synchronized error " << sync_error << ", single-device error "
        << single_error;
  }
}

TEST(SyncBatchNorm, ClampEpsMode) {
  torch::manual_seed(2);
  const double eps = 0.5;  // large, so that clamping differs from adding
  nn::SynchronizedBatchNorm1d layer(
      nn::SynchronizedBatchNormOptions(3).eps(eps).eps_mode(nn::EpsMode::kClamp));
  const auto x = torch::randn({16, 3}) * 0.3;
  const auto y = layer->forward(x);
  const auto mean = x.mean(0);
  const auto var = x.var(0, /*unbiased=*/false);
  const auto expected = (x - mean) / var.clamp_min(eps).sqrt();
  EXPECT_TENSOR_NEAR(y, expected, 1e-5, "clamp mode output");
}

TEST(SyncBatchNorm, TotalCountOfOneIsAClearError) {
  nn::SynchronizedBatchNorm1d single(3);
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [&] {
        single->forward(torch::randn({1, 3}));
      },
      "expected more than 1 value per channel");
  // Over copies: one sample on copy 0, none on the others.
  nn::SynchronizedBatchNorm1d layer(3);
  DataParallelWithCallback<nn::SynchronizedBatchNorm1dImpl> parallel(
      layer.ptr(), DataParallelOptions(cpu_copies(3)).empty_copies(EmptyCopies::kRun));
  try {
    parallel(torch::randn({1, 3}));
    ADD_FAILURE() << "expected an error";
  } catch (const CopiesFailed& e) {
    for (const auto& error : e.errors()) {
      ASSERT_TRUE(error) << "every copy gets the error";
      EXPECT_NE(replicascope::testing::describe(error).find("more than 1 value per channel"),
                std::string::npos);
    }
  }
}

// `layer` refuses `input` with std::invalid_argument containing `needle`.
template <class Layer>
void expect_rejects(Layer& layer, const torch::Tensor& input, const std::string& needle) {
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [&] { layer->forward(input); }, needle);
}

TEST(SyncBatchNorm, BadShapesAreClearErrors) {
  nn::SynchronizedBatchNorm2d layer(4);
  layer->set_layer_name("features.1");
  expect_rejects(layer, torch::randn({2, 3, 5, 5}),
                 "SynchronizedBatchNorm2d 'features.1': expected a 4D (N, C, H, W) input with C = "
                 "4, got an input of shape [2, 3, 5, 5]");
  expect_rejects(layer, torch::randn({2, 4, 5}), "got an input of shape [2, 4, 5]");
  nn::SynchronizedBatchNorm1d one(4);
  expect_rejects(one, torch::randn({2, 4, 5, 5}), "2D (N, C) or 3D (N, C, L)");
  expect_rejects(one, torch::ones({2, 4}, torch::kLong), "floating-point");
  nn::SynchronizedBatchNorm3d three(2);
  expect_rejects(three, torch::randn({2, 2, 3, 3}), "5D (N, C, D, H, W)");
}

TEST(SyncBatchNorm, TrackRunningStatsOffUsesBatchStatisticsInEval) {
  auto options = nn::SynchronizedBatchNormOptions(3).track_running_stats(false);
  nn::SynchronizedBatchNorm1d layer(options);
  torch::nn::BatchNorm1d plain(torch::nn::BatchNormOptions(3).track_running_stats(false));
  EXPECT_FALSE(layer->running_mean.defined());
  const auto x = torch::randn({10, 3});
  layer->eval();
  plain->eval();
  EXPECT_TENSOR_NEAR(layer->forward(x), plain->forward(x), 1e-5, "eval, no running stats");
}

TEST(SyncBatchNorm, CloneIsUnreplicatedAndPrints) {
  nn::SynchronizedBatchNorm2d layer(nn::SynchronizedBatchNormOptions(8).momentum(c10::nullopt));
  auto copy = std::dynamic_pointer_cast<nn::SynchronizedBatchNorm2dImpl>(layer->clone());
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->copy_id(), -1);
  EXPECT_EQ(copy->num_copies(), 1);
  std::ostringstream printed;
  printed << *layer;
  EXPECT_EQ(printed.str(),
            "SynchronizedBatchNorm2d(8, eps=1e-05, momentum=None, affine=true, "
            "track_running_stats=true)");
}
