// replicascope-cli demo: trains the built-in demo model on N copies and prints, per step, what
// every copy saw at one synchronized layer next to the synchronized statistics.
#include <torch/torch.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "replicascope/data/demo_data.h"
#include "replicascope/engine/session.h"
#include "replicascope/models/demo_net.h"
#include "replicascope/module_walk.h"
#include "replicascope/replicascope.h"

namespace replicascope::cli {

const char* const kDemoUsage =
    "usage: replicascope-cli demo [options]\n\n"
    "Trains the built-in demo CNN (BatchNorm2d and BatchNorm1d, 1x28x28 images, 10 classes) on\n"
    "Fashion-MNIST (Debian's dataset-fashion-mnist; synthetic images when it is not installed,\n"
    "or with --synthetic) with synchronized BatchNorm, and prints per step the loss, each copy's "
    "local\n"
    "statistics at one layer beside the synchronized ones, and per layer how far the copies'\n"
    "local means are from the synchronized mean (in synchronized standard deviations): what\n"
    "unsynchronized BatchNorm would have normalized with instead.\n\n"
    "options:\n"
    "  --devices LIST   copies to train on: cpu:N, or cuda:I,J (default cpu:4)\n"
    "  --steps N        training steps (default 20)\n"
    "  --batch N        whole batch per step, split over the copies (default 32)\n"
    "  --lr X           SGD learning rate, momentum 0.9 (default 0.05)\n"
    "  --seed N         random seed for weights and data (default 0)\n"
    "  --layer NAME     the layer whose per-copy table is printed (default features.1)\n"
    "  --channels N     channels shown in that table (default 3)\n"
    "  --synthetic      synthetic images instead of Fashion-MNIST\n";

namespace {

// Stores each sync event of the current step, keyed by layer.
struct StepRecorder : nn::StatsObserver {
  std::mutex mutex;
  std::map<std::string, nn::SyncEvent> events;
  void on_sync(const nn::SyncEvent& event) override {
    std::lock_guard<std::mutex> lock(mutex);
    events[event.layer] = event;
  }
};

void print_row(const std::string& label, int64_t count, const torch::Tensor& mean,
               const torch::Tensor& var, int64_t channels) {
  std::printf("    %-14s %7lld", label.c_str(), static_cast<long long>(count));
  for (int64_t c = 0; c < channels; ++c) {
    std::printf("  %+9.4f %8.4f", mean[c].item<double>(), var[c].item<double>());
  }
  std::printf("\n");
}

}  // namespace

int run_demo(const std::vector<std::string>& raw) {
  const Arguments args(raw, {"devices", "steps", "batch", "lr", "seed", "layer", "channels"},
                       {"synthetic"});
  if (!args.positional().empty())
    throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  const auto devices = parse_devices(args.get("devices", "cpu:4"));
  const int64_t steps = args.get_int("steps", 20, 1, 10'000'000);
  const int64_t batch = args.get_int("batch", 32, 2, 1 << 20);
  const double lr = args.get_double("lr", 0.05);
  const auto layer = args.get("layer", "features.1");
  const int64_t seed = args.get_int("seed", 0, 0, INT64_MAX);
  torch::manual_seed(static_cast<uint64_t>(seed));

  models::DemoNet model;
  model->to(devices.front());
  const nn::SynchronizedBatchNormBase* shown = nullptr;
  std::string layers;
  for_each_module(*model, [&](const std::string& name, torch::nn::Module& module) {
    if (auto* bn = dynamic_cast<const nn::SynchronizedBatchNormBase*>(&module)) {
      layers += (layers.empty() ? "" : ", ") + name;
      if (name == layer) shown = bn;
    }
  });
  if (!shown) {
    throw UsageError("--layer '" + layer + "' is not a synchronized layer of the demo model (" +
                     layers + ")");
  }
  const int64_t channels =
      std::min<int64_t>(args.get_int("channels", 3, 1, 64), shown->options.num_features());
  auto recorder = std::make_shared<StepRecorder>();
  nn::set_stats_observer(*model, recorder);
  DataParallelWithCallback<models::DemoNetImpl> parallel(model.ptr(), devices);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(lr).momentum(0.9));
  const auto data = data::demo_data(args.has("synthetic"), static_cast<uint64_t>(seed));
  const bool fashion = data.spec == "fashion-mnist";
  data::BatchLoader loader(*data.dataset, batch, static_cast<uint64_t>(seed));

  std::printf(
      "ReplicaScope demo: %lld steps, batch %lld over %s (%zu copies), synchronized BN, %s\n",
      static_cast<long long>(steps), static_cast<long long>(batch), format_devices(devices).c_str(),
      devices.size(), fashion ? "Fashion-MNIST" : "synthetic images");
  std::printf(
      "table: layer %s, per channel: local mean and var; divergence: max over copies and "
      "channels of |local mean - synced mean| / synced std\n\n",
      layer.c_str());
  for (int64_t step = 1; step <= steps; ++step) {
    recorder->events.clear();
    auto [images, labels] = loader.next();
    images = images.to(devices.front());
    labels = labels.to(devices.front());
    optimizer.zero_grad();
    const auto logits = parallel(images);
    const auto loss = torch::cross_entropy_loss(logits, labels);
    loss.backward();
    optimizer.step();
    const double accuracy = logits.argmax(1).eq(labels).to(torch::kDouble).mean().item<double>();
    std::printf("step %4lld  loss %.4f  accuracy %.3f  divergence:", static_cast<long long>(step),
                loss.item<double>(), accuracy);
    for (const auto& [name, event] : recorder->events)
      std::printf("  %s %.3f", name.c_str(), engine::to_layer_stats(event).divergence);
    std::printf("\n");
    const auto it = recorder->events.find(layer);
    if (it == recorder->events.end()) continue;
    const auto& event = it->second;
    std::printf("    %-14s %7s", "", "count");
    for (int64_t c = 0; c < channels; ++c)
      std::printf("  %9s %8s", ("mean[" + std::to_string(c) + "]").c_str(), "var");
    std::printf("\n");
    for (const auto& copy : event.copies) {
      print_row("copy " + std::to_string(copy.copy_id), copy.count, copy.mean, copy.var, channels);
    }
    print_row("synchronized", event.count, event.mean, event.var, channels);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace replicascope::cli
