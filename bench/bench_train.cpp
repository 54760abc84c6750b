// SPDX-License-Identifier: MIT
// Throughput: synchronized BatchNorm against LibTorch's own, and a data-parallel training step
// with synchronized against unsynchronized BatchNorm, each pair at the same number of copies.
//
//   build/bench/replicascope_bench_train
//
// This machine's timings drift by up to 2x between runs, so each pair is measured side by side:
// every iteration times one synchronized and one baseline run back to back (alternating which
// goes first), and the counters give the median of each and the median of their ratios.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include "bench_util.h"
#include "replicascope/data/dataset.h"
#include "replicascope/diagnose/diagnosis.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/engine/session.h"
#include "replicascope/model/demo_net.h"
#include "replicascope/replicascope.h"

namespace rs = replicascope;

namespace {

using replicascope::bench::median;

std::vector<torch::Device> cpu_copies(int64_t n) {
  return std::vector<torch::Device>(n, torch::Device(torch::kCPU));
}

// Times `sync` and `baseline` back to back in every iteration; the counters are named
// `names` (the first's, the baseline's) plus "ratio".
void run_paired(benchmark::State& state, const std::function<void()>& sync,
                const std::function<void()>& baseline,
                std::pair<const char*, const char*> names = {"sync_ms", "base_ms"}) {
  sync();  // warm up both (allocator, first-touch)
  baseline();
  std::vector<double> sync_ms, base_ms, ratios;
  auto time = [](const std::function<void()>& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  };
  bool sync_first = true;
  for (auto _ : state) {
    double s, b;
    if (sync_first) {
      s = time(sync), b = time(baseline);
    } else {
      b = time(baseline), s = time(sync);
    }
    sync_first = !sync_first;
    sync_ms.push_back(s);
    base_ms.push_back(b);
    ratios.push_back(s / b);
  }
  state.counters[names.first] = median(sync_ms);
  state.counters[names.second] = median(base_ms);
  state.counters["ratio"] = median(ratios);
}

// Forward and backward of one BatchNorm2d layer through DataParallelWithCallback, per-copy input
// [8, 32, 16, 16]: SynchronizedBatchNorm2d against torch::nn::BatchNorm2d.
void BM_BatchNorm2dForwardBackward(benchmark::State& state) {
  const int64_t copies = state.range(0);
  torch::manual_seed(0);
  torch::nn::Sequential synced(rs::nn::SynchronizedBatchNorm2d(32));
  torch::nn::Sequential plain(torch::nn::BatchNorm2d(32));
  rs::DataParallelWithCallback<torch::nn::SequentialImpl> parallel_synced(synced.ptr(),
                                                                          cpu_copies(copies));
  rs::DataParallelWithCallback<torch::nn::SequentialImpl> parallel_plain(plain.ptr(),
                                                                         cpu_copies(copies));
  const auto x = torch::randn({8 * copies, 32, 16, 16}).requires_grad_(true);
  const auto upstream = torch::randn({8 * copies, 32, 16, 16});
  run_paired(
      state, [&] { (parallel_synced(x) * upstream).sum().backward(); },
      [&] { (parallel_plain(x) * upstream).sum().backward(); });
}

struct DemoTrainer {
  rs::models::DemoNet model;
  rs::DataParallelWithCallback<rs::models::DemoNetImpl> parallel;
  torch::optim::SGD optimizer;
  torch::Tensor images, labels;  // 8 per copy
  DemoTrainer(bool synchronized, int64_t copies)
      : model(rs::models::DemoNetOptions().synchronized(synchronized)),
        parallel(model.ptr(), cpu_copies(copies)),
        optimizer(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9)),
        images(torch::randn({8 * copies, 1, 28, 28})),
        labels(torch::randint(10, {8 * copies}, torch::kLong)) {}
  void step() {
    optimizer.zero_grad();
    torch::cross_entropy_loss(parallel(images), labels).backward();
    optimizer.step();
  }
};

// One SGD step of the demo CNN (forward, cross-entropy, backward, step) on 8 images per copy,
// synchronized BatchNorm against per-copy BatchNorm.
void BM_DemoTrainingStep(benchmark::State& state) {
  torch::manual_seed(0);
  DemoTrainer synced(true, state.range(0)), plain(false, state.range(0));
  run_paired(
      state, [&] { synced.step(); }, [&] { plain.step(); });
}

// Scaling: the demo's step at N copies against one copy, 8 images per copy on both (N times
// the work on N threads); synchronized (argument 1) or not (0). 1.0 is perfect scaling.
void BM_DemoCopiesAgainstOne(benchmark::State& state) {
  torch::manual_seed(0);
  const bool synchronized = state.range(1) != 0;
  DemoTrainer many(synchronized, state.range(0)), one(synchronized, 1);
  run_paired(
      state, [&] { many.step(); }, [&] { one.step(); }, {"copies_ms", "one_copy_ms"});
}

// The findings' rules on a live session, against its step: the demo on 4 copies, per-copy
// BatchNorm (every rule that reads channels runs), batch 32, every channel of every step; the
// rules see the step's record (Diagnosis::observe and findings(), as the engine calls them).
// The ratio is their cost in steps (goal: 0.02 or less).
void BM_DiagnosisAgainstTheStep(benchmark::State& state) {
  rs::engine::SessionOptions options;
  options.devices = cpu_copies(4);
  options.batch_size = 32;
  options.synchronized = false;
  rs::engine::Session session(rs::engine::demo_model(),
                              rs::data::make_synthetic({1, 28, 28}, 10, 1024, 1), options);
  rs::diagnose::RunFacts facts;
  facts.synchronized = false;
  facts.copies = 4;
  facts.batch = 32;
  rs::diagnose::Diagnosis diagnosis(facts);
  rs::StepRecord record = session.step();
  int64_t step = 0;
  run_paired(
      state,
      [&] {
        record.step = ++step;
        diagnosis.observe(rs::diagnose::evidence_of(record));
        benchmark::DoNotOptimize(diagnosis.new_findings());
      },
      [&] { record = session.step(); }, {"diagnose_ms", "step_ms"});
}

}  // namespace

// Each pair at 1, 2 and 4 copies.
void at_1_2_4_copies(benchmark::internal::Benchmark* b) {
  b->Arg(1)->Arg(2)->Arg(4)->ArgName("copies")->MinTime(2.0)->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_BatchNorm2dForwardBackward)->Apply(at_1_2_4_copies);
BENCHMARK(BM_DemoTrainingStep)->Apply(at_1_2_4_copies);
BENCHMARK(BM_DiagnosisAgainstTheStep)->MinTime(3.0)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DemoCopiesAgainstOne)
    ->ArgsProduct({{2}, {0, 1}})
    ->ArgNames({"copies", "synchronized"})
    ->MinTime(2.0)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
