// SPDX-License-Identifier: MIT
// How fast a long run of a large model opens (issue 18's goals: open a 10,000-step densenet121
// run and read what its divergence heatmap draws in 1 s or less; switch the selected layer in
// 100 ms or less).
//
// usage: replicascope_bench_run_open SHAPE_RUN OUT_RUN [STEPS]
//   SHAPE_RUN: a run of the model (one step is enough, e.g. `replicascope-cli train --model
//   densenet121.pt --data synthetic --image 3,32,32 --devices cpu:4 --batch 16 --steps 1 --run
//   R`): its first step's layers, channels and copies are the shape of the steps made here.
//   OUT_RUN: made when missing, STEPS steps (default 10,000) of that shape with random values
//   and the default detail policy (training that long takes hours on this machine; writing it
//   takes a minute), then timed as the debugger opens it.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "bench_util.h"
#include "replicascope/store/run_reader.h"
#include "replicascope/store/run_writer.h"
#include "replicascope/store/series.h"

using namespace replicascope;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The first step of `path`, as a StepRecord (every layer, copy and channel).
replicascope::StepRecord first_step(const std::string& path) {
  const store::RunReader run(path);
  replicascope::StepRecord record;
  record.step = 1;
  for (const auto& layer : run.layers()) {
    auto stats = store::layer_at_step(run, layer, 0, run.detail_steps().at(0));
    if (stats) record.layers.push_back(std::move(*stats));
  }
  return record;
}

void make_run(const std::string& shape, const std::string& out, int64_t steps) {
  auto record = first_step(shape);
  const store::RunReader source(shape);
  std::mt19937_64 random(1);
  std::normal_distribution<double> noise(0.0, 0.01);
  store::RunWriter writer(out, source.metadata(), source.model());
  const auto start = std::chrono::steady_clock::now();
  for (int64_t step = 1; step <= steps; ++step) {
    record.step = step;
    for (auto& layer : record.layers) {
      for (auto& copy : layer.copies) {
        for (auto& v : copy.mean) v += noise(random);
      }
      layer.divergence = std::abs(noise(random)) * 10;
      layer.worst_channel = step % static_cast<int64_t>(std::max<size_t>(1, layer.mean.size()));
    }
    writer.append(record);
    if (step % 1000 == 0) {
      std::printf("  wrote %lld steps (%.0f s)\n", static_cast<long long>(step),
                  seconds_since(start));
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SHAPE_RUN OUT_RUN [STEPS]\n", argv[0]);
    return 2;
  }
  const std::string shape = argv[1], out = argv[2];
  const int64_t steps = argc > 3 ? std::stoll(argv[3]) : 10000;
  if (!std::filesystem::exists(out)) make_run(shape, out, steps);
  std::printf("%s: %.0f MB\n", out.c_str(), std::filesystem::file_size(out) / 1e6);
  std::vector<double> open, layer_switch, channel, at_step;
  size_t layers = 0, points = 0;
  for (int round = 0; round < 5; ++round) {
    // What the debugger's engine thread does to open a run (EngineWorker::openRun).
    auto start = std::chrono::steady_clock::now();
    const store::RunReader run(out);
    const auto divergence = run.divergence_by_layer();
    const auto rows = run.steps();
    const auto model = run.model();
    open.push_back(seconds_since(start));
    layers = divergence.size();
    points = 0;
    for (const auto& [name, series] : divergence) points += series.size();
    // Selecting another layer: its means over channels at every step.
    const auto names = run.layers();
    const auto& layer = names[names.size() / 2 + static_cast<size_t>(round)];
    start = std::chrono::steady_clock::now();
    const auto summaries =
        store::statistic_series(run, {layer, Statistic::kMean, 0, 0, 0, /*over_channels=*/true});
    layer_switch.push_back(seconds_since(start));
    start = std::chrono::steady_clock::now();
    const auto one = store::statistic_series(run, {layer, Statistic::kMean, 0, 3});
    channel.push_back(seconds_since(start));
    start = std::chrono::steady_clock::now();
    const auto at = store::layer_at_step(run, layer, 0, run.detail_steps().back());
    at_step.push_back(seconds_since(start));
    if (summaries.empty() || one.empty() || !at) std::printf("  (a read came back empty)\n");
  }
  std::printf(
      "open (metadata, steps, model, every layer's divergence: %zu layers, %zu points): "
      "%.0f ms median of 5 (goal <= 1000 ms)\n",
      layers, points, bench::median(open) * 1e3);
  std::printf("switch layer (means over channels, every step): %.1f ms (goal <= 100 ms)\n",
              bench::median(layer_switch) * 1e3);
  std::printf("channels 0-3 of a layer over its kept steps: %.1f ms\n",
              bench::median(channel) * 1e3);
  std::printf("every channel of a layer at one kept step (Per-channel slider): %.1f ms\n",
              bench::median(at_step) * 1e3);
  return 0;
}
