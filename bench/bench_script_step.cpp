// SPDX-License-Identifier: MIT
// Times training steps (forward, backward, SGD) of a TorchScript model with ReplicaScope:
// synchronized BatchNorm on N copies. bench/script_vs_eager.py runs it beside PyTorch eager.
//
// usage: replicascope_bench_script_step MODEL.pt [--devices cpu:2] [--batch 16]
//            [--image 3,32,32] [--classes 10] [--steps 20] [--warmup 5] [--threads T]
//            [--synchronized 1|0]
// --threads: ATen's intra-op threads (default: ATen's own default); the copies share them out.
// --synchronized 0: per-copy BatchNorm statistics (no rendezvous), to see what waiting costs.
// Prints one line: "ms_per_step MEDIAN MIN" over the timed steps, and on stderr the median of
// each phase: "phases_ms forward F backward B sgd S".
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "bench_util.h"
#include "replicascope/base/allocator.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/parallel/devices.h"

namespace {

std::vector<int64_t> sizes_of(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoll(item));
  return out;
}

struct Options {
  std::string devices = "cpu:2", image = "3,32,32";
  int64_t batch = 16, classes = 10, steps = 20, warmup = 5;
  int64_t threads = 0;  // ATen's default
  bool synchronized = true;
};

// The timed training steps: median and fastest milliseconds per step after the warm-up.
std::pair<double, double> time_steps(const std::string& model_path, const Options& o) {
  if (o.threads > 0) at::set_num_threads(static_cast<int>(o.threads));
  torch::manual_seed(0);
  auto model = replicascope::ScriptedModel::load(
      model_path, replicascope::ScriptedModelOptions().synchronize(o.synchronized));
  model->train(true);
  auto replicas = model->replicate(replicascope::parse_devices(o.devices));
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : model->named_parameters()) params.push_back(p);
  torch::optim::SGD optimizer(params, torch::optim::SGDOptions(0.01).momentum(0.9));
  auto shape = sizes_of(o.image);
  shape.insert(shape.begin(), o.batch);
  const auto x = torch::randn(shape);
  const auto labels = torch::randint(o.classes, {o.batch}, torch::kLong);
  std::vector<double> times, forward, backward, sgd;
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
  };
  for (int64_t step = 0; step < o.warmup + o.steps; ++step) {
    const auto start = Clock::now();
    optimizer.zero_grad();
    auto loss =
        torch::cross_entropy_loss(replicascope::data_parallel_forward(*replicas, x), labels);
    const auto forwarded = Clock::now();
    loss.backward();
    const auto backwarded = Clock::now();
    optimizer.step();
    const auto end = Clock::now();
    if (step < o.warmup) continue;
    times.push_back(ms(start, end));
    forward.push_back(ms(start, forwarded));
    backward.push_back(ms(forwarded, backwarded));
    sgd.push_back(ms(backwarded, end));
  }
  using replicascope::bench::median;
  std::cerr << "phases_ms forward " << median(forward) << " backward " << median(backward)
            << " sgd " << median(sgd) << "\n";
  return {median(times), *std::min_element(times.begin(), times.end())};
}

}  // namespace

int main(int argc, char** argv) {
  replicascope::keep_freed_memory_mapped();
  if (argc < 2) {
    std::cerr << "usage: " << argv[0]
              << " MODEL.pt [--devices cpu:2] [--batch 16] [--image 3,32,32] [--classes 10]"
                 " [--steps 20] [--warmup 5] [--threads T] [--synchronized 1|0]\n";
    return 2;
  }
  Options o;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--devices") {
      o.devices = value;
    } else if (key == "--image") {
      o.image = value;
    } else if (key == "--synchronized") {
      o.synchronized = value != "0";
    } else if (key == "--batch" || key == "--classes" || key == "--steps" || key == "--warmup" ||
               key == "--threads") {
      auto& field = key == "--batch"     ? o.batch
                    : key == "--classes" ? o.classes
                    : key == "--steps"   ? o.steps
                    : key == "--warmup"  ? o.warmup
                                         : o.threads;
      field = std::stoll(value);
    } else {
      std::cerr << "unknown option " << key << "\n";
      return 2;
    }
  }
  try {
    const auto [median, fastest] = time_steps(argv[1], o);
    std::printf("ms_per_step %.3f %.3f\n", median, fastest);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
