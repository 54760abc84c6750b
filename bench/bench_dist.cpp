// SPDX-License-Identifier: MIT
// Latency per sync point across processes: one synchronized BatchNorm2d forward (training) per
// iteration on every rank, the statistics reduced over the ranks
//   ours   - ReplicaScope's layer: float64 moments, one all-gather of [count, mean, M2], Chan
//            merge in rank order;
//   torch  - torch.nn.SyncBatchNorm's scheme over the same Gloo group: float32 mean and invstd
//            per rank, all-gather of [mean, invstd, count], count-weighted merge
//            (batch_norm_gather_stats_with_counts' formula), then batch_norm with them.
// Run it under launch: replicascope-cli launch --nproc 2 -- replicascope_bench_dist [--channels 64]
// Rank 0 prints the median microseconds per sync point of each, measured in alternating rounds.
//
// With --gradients: one training step (forward, backward, gradients summed over the ranks) of an
// MLP of --layers Linear(--width, --width) on a batch of 64 per rank, with dist::GradientReducer
//   overlap - buckets start from the hooks as backward produces their gradients;
//   after   - every bucket starts once backward is done (the same reducer, overlap off);
// and, for scale, the same step without any reduction.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>

#include "bench_util.h"
#include "replicascope/base/allocator.h"
#include "replicascope/dist/gradient_reducer.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/nn/sync_batchnorm.h"

using namespace replicascope;
using clock_type = std::chrono::steady_clock;

namespace {

using replicascope::bench::median;

torch::Tensor torch_scheme(dist::ProcessGroup& group, const torch::Tensor& x, double eps) {
  const auto [var, mean] = torch::var_mean(x, {0, 2, 3}, /*unbiased=*/false);
  const auto invstd = (var + eps).rsqrt();
  const double count = static_cast<double>(x.numel() / x.size(1));
  auto packed = torch::cat({mean, invstd, torch::full({1}, count, x.options())});
  const auto all = group.all_gather(packed, "torch scheme");
  const int64_t c = x.size(1);
  auto stacked = torch::stack(all);  // [world, 2C + 1]
  const auto means = stacked.narrow(1, 0, c), invstds = stacked.narrow(1, c, c);
  const auto counts = stacked.narrow(1, 2 * c, 1);
  const auto total = counts.sum();
  const auto global_mean = (means * counts).sum(0) / total;
  const auto vars = invstds.pow(-2) - eps;
  const auto global_var =
      ((vars + (means - global_mean).pow(2)) * counts).sum(0) / total;  // biased
  return torch::batch_norm(x, {}, {}, global_mean, global_var, /*training=*/false, 0.0, eps, false);
}

// Alternating rounds of `iterations` calls of each of `runs`; round 0 warms up. Medians, in ms
// per call.
std::vector<double> alternate(dist::ProcessGroup& group, int64_t iterations,
                              const std::vector<std::function<void()>>& runs) {
  std::vector<std::vector<double>> times(runs.size());
  for (int round = 0; round < 6; ++round) {
    for (size_t which = 0; which < runs.size(); ++which) {
      group.barrier("bench");
      const auto start = clock_type::now();
      for (int64_t i = 0; i < iterations; ++i) runs[which]();
      const double ms =
          std::chrono::duration<double, std::milli>(clock_type::now() - start).count() /
          static_cast<double>(iterations);
      if (round > 0) times[which].push_back(ms);
    }
  }
  std::vector<double> medians;
  for (const auto& t : times) medians.push_back(median(t));
  return medians;
}

int gradient_step(const std::shared_ptr<dist::ProcessGroup>& group, int64_t layers, int64_t width,
                  int64_t iterations) {
  torch::manual_seed(0);
  torch::nn::Sequential net;
  for (int64_t i = 0; i < layers; ++i) {
    net->push_back(torch::nn::Linear(width, width));
    net->push_back(torch::nn::Tanh());
  }
  const auto x = torch::randn({64, width});
  std::vector<std::unique_ptr<dist::GradientReducer>> reducers(2);
  auto step = [&](bool overlap) {
    // One reducer at a time holds hooks on the parameters.
    auto& reducer = reducers[overlap ? 0 : 1];
    if (!reducer) {
      reducers[0].reset();
      reducers[1].reset();
      dist::GradientReducerOptions options;
      options.overlap = overlap;
      reducer = std::make_unique<dist::GradientReducer>(net->parameters(), group, options);
    }
    net->zero_grad();
    net->forward(x).pow(2).mean().backward();
    reducer->finish();
  };
  auto local = [&] {  // this rank's gradients only: what the reduction adds to a step
    reducers[0].reset();
    reducers[1].reset();
    net->zero_grad();
    net->forward(x).pow(2).mean().backward();
  };
  const auto ms = alternate(*group, iterations, {[&] { step(true); }, [&] { step(false); }, local});
  if (group->rank() == 0) {
    int64_t params = 0;
    for (const auto& p : net->parameters()) params += p.numel();
    std::printf(
        "training step across %d processes, MLP of %lld x Linear(%lld, %lld) (%.1f M parameters), "
        "batch 64 per rank, %zu buckets: overlapped %.2f ms, after backward %.2f ms, ratio %.3f "
        "(without any reduction %.2f ms)\n",
        group->size(), static_cast<long long>(layers), static_cast<long long>(width),
        static_cast<long long>(width), static_cast<double>(params) / 1e6,
        dist::GradientReducer(net->parameters(), group).buckets(), ms[0], ms[1], ms[0] / ms[1],
        ms[2]);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory_mapped();
  int64_t channels = 64, iterations = 300, layers = 8, width = 512;
  bool gradients = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--gradients")) gradients = true;
    if (i + 1 == argc) break;
    if (!std::strcmp(argv[i], "--channels")) channels = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--iterations")) iterations = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--layers")) layers = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--width")) width = std::atoll(argv[i + 1]);
  }
  auto group =
      dist::ProcessGroup::join(dist::Environment::from_environment(), std::chrono::seconds(60));
  if (gradients) return gradient_step(group, layers, width, std::min<int64_t>(iterations, 20));
  torch::NoGradGuard no_grad;
  torch::manual_seed(group->rank());
  const auto x = torch::randn({8, channels, 8, 8});
  nn::SynchronizedBatchNorm2d layer(channels);
  layer->set_process_group(group);
  const auto ms =
      alternate(*group, iterations, {[&] { layer(x); }, [&] { torch_scheme(*group, x, 1e-5); }});
  if (group->rank() == 0) {
    std::printf(
        "sync point across %d processes, BatchNorm2d forward of [8, %lld, 8, 8] per rank: "
        "ours %.1f us, torch.nn.SyncBatchNorm's scheme %.1f us (medians of 5 rounds of %lld)\n",
        group->size(), static_cast<long long>(channels), 1000 * ms[0], 1000 * ms[1],
        static_cast<long long>(iterations));
  }
  return 0;
}
