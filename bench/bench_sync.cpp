// SPDX-License-Identifier: MIT
// Latency per sync point: ReplicaScope's rendezvous and synchronized layer against c10d's Gloo
// allreduce between in-process ranks, all in one run.
//
//   build/bench/replicascope_bench_sync --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true
//
// Each benchmark iteration runs a batch of rounds on N threads (one per copy or rank); the
// counter `per_sync` is the wall time of one round, that is of one sync point.
#include <benchmark/benchmark.h>
#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include "bench_util.h"
#include "replicascope/replicascope.h"

namespace rs = replicascope;
using rs::bench::time_on_threads;

namespace {

constexpr int kRounds = 2000;

// per_sync: seconds per round (shown with an SI prefix, e.g. 12.3u = 12.3 us).
void report_per_sync(benchmark::State& state, int rounds_per_iteration) {
  state.counters["per_sync"] =
      benchmark::Counter(rounds_per_iteration, benchmark::Counter::kIsIterationInvariantRate |
                                                   benchmark::Counter::kInvert);
}

// The bare rendezvous: integers in, their sum out.
void BM_SyncMasterRound(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto master = std::make_shared<rs::sync::SyncMaster<int, int>>(
      "bench", [](std::vector<int>& messages, int64_t) {
        int total = 0;
        for (int m : messages) total += m;
        return std::vector<int>(messages.size(), total);
      });
  std::vector<rs::sync::SlavePipe<int, int>> pipes(n);
  for (int i = 1; i < n; ++i) pipes[i] = master->register_slave(i);
  for (auto _ : state) {
    const double seconds = time_on_threads(n, [&](int copy) {
      for (int r = 0; r < kRounds; ++r) {
        benchmark::DoNotOptimize(copy == 0 ? master->run_master(r) : pipes[copy].run_slave(r));
      }
    });
    state.SetIterationTime(seconds);
  }
  report_per_sync(state, kRounds);
}

// One synchronized BatchNorm1d layer, forward only, on a [2, C] chunk per copy: the local
// moments, the rendezvous, the Chan merge and the normalization.
void BM_SyncBatchNormSyncPoint(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int64_t channels = state.range(1);
  torch::NoGradGuard no_grad;
  rs::nn::SynchronizedBatchNorm1d layer(channels);
  auto replicas = rs::replicate(layer.ptr(), std::vector<torch::Device>(n, torch::kCPU));
  const auto input = torch::randn({2, channels});
  for (auto _ : state) {
    const double seconds = time_on_threads(n, [&](int copy) {
      torch::NoGradGuard thread_no_grad;
      for (int r = 0; r < kRounds; ++r) {
        benchmark::DoNotOptimize(replicas.copies[copy]->forward(input));
      }
    });
    state.SetIterationTime(seconds);
  }
  report_per_sync(state, kRounds);
}

// The baseline: c10d's ProcessGroupGloo allreduce of C floats between N ranks in this process.
void BM_GlooAllreduce(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int64_t channels = state.range(1);
  constexpr int kGlooRounds = 100;  // about a millisecond each
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<c10::intrusive_ptr<c10d::ProcessGroupGloo>> groups(n);
  time_on_threads(n, [&](int rank) {
    auto options = c10d::ProcessGroupGloo::Options::create();
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    groups[rank] = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, n, options);
  });
  for (auto _ : state) {
    const double seconds = time_on_threads(n, [&](int rank) {
      std::vector<at::Tensor> tensors{torch::ones({channels})};
      for (int r = 0; r < kGlooRounds; ++r) groups[rank]->allreduce(tensors)->wait();
    });
    state.SetIterationTime(seconds);
  }
  report_per_sync(state, kGlooRounds);
}

}  // namespace

BENCHMARK(BM_SyncMasterRound)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
// N = 1 is the same layer with no partner to wait for: its compute alone.
BENCHMARK(BM_SyncBatchNormSyncPoint)
    ->ArgsProduct({{1, 2, 4, 8}, {64, 512}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GlooAllreduce)
    ->ArgsProduct({{2, 4}, {64, 512}})
    ->UseManualTime()
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
