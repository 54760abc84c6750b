// Latency per sync point across processes: one synchronized BatchNorm2d forward (training) per
// iteration on every rank, the statistics reduced over the ranks
//   ours   - ReplicaScope's layer: float64 moments, one all-gather of [count, mean, M2], Chan
//            merge in rank order;
//   torch  - torch.nn.SyncBatchNorm's scheme over the same Gloo group: float32 mean and invstd
//            per rank, all-gather of [mean, invstd, count], count-weighted merge
//            (batch_norm_gather_stats_with_counts' formula), then batch_norm with them.
// Run it under launch: replicascope-cli launch --nproc 2 -- replicascope_bench_dist [--channels 64]
// Rank 0 prints the median microseconds per sync point of each, measured in alternating rounds.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "bench_util.h"
#include "replicascope/allocator.h"
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

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory_mapped();
  int64_t channels = 64, iterations = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--channels")) channels = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--iterations")) iterations = std::atoll(argv[i + 1]);
  }
  torch::NoGradGuard no_grad;
  auto group =
      dist::ProcessGroup::join(dist::Environment::from_environment(), std::chrono::seconds(60));
  torch::manual_seed(group->rank());
  const auto x = torch::randn({8, channels, 8, 8});
  nn::SynchronizedBatchNorm2d layer(channels);
  layer->set_process_group(group);
  std::vector<double> ours, theirs;
  for (int round = 0; round < 6; ++round) {
    for (int which = 0; which < 2; ++which) {
      group->barrier("bench");
      const auto start = clock_type::now();
      for (int64_t i = 0; i < iterations; ++i) {
        if (which == 0) {
          layer(x);
        } else {
          torch_scheme(*group, x, 1e-5);
        }
      }
      const double us =
          std::chrono::duration<double, std::micro>(clock_type::now() - start).count() /
          static_cast<double>(iterations);
      if (round > 0) (which == 0 ? ours : theirs).push_back(us);  // round 0 warms up
    }
  }
  if (group->rank() == 0) {
    std::printf(
        "sync point across %d processes, BatchNorm2d forward of [8, %lld, 8, 8] per rank: "
        "ours %.1f us, torch.nn.SyncBatchNorm's scheme %.1f us (medians of %zu rounds of "
        "%lld)\n",
        group->size(), static_cast<long long>(channels), median(ours), median(theirs), ours.size(),
        static_cast<long long>(iterations));
  }
  return 0;
}
