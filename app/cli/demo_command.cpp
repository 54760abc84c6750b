// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope-cli demo: trains the built-in demo model on N copies and prints, per step, what
// every copy saw at one synchronized layer next to the synchronized statistics.
#include <torch/torch.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/session_args.h"
#include "replicascope/base/stop_signals.h"
#include "replicascope/engine/session_factory.h"
#include "replicascope/parallel/devices.h"

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
    "  --lr X           SGD learning rate, momentum 0.9 (default 0.003)\n"
    "  --seed N         random seed for weights and data (default 0)\n"
    "  --layer NAME     the layer whose per-copy table is printed (default features.1)\n"
    "  --channels N     channels shown in that table (default 3)\n"
    "  --synthetic      synthetic images instead of Fashion-MNIST\n";

namespace {

void print_row(const std::string& label, int64_t count, const std::vector<double>& mean,
               const std::vector<double>& var, int64_t channels) {
  std::printf("    %-14s %7lld", label.c_str(), static_cast<long long>(count));
  for (int64_t c = 0; c < channels; ++c) std::printf("  %+9.4f %8.4f", mean[c], var[c]);
  std::printf("\n");
}

void print_step(const replicascope::StepRecord& record, const std::string& layer,
                int64_t channels) {
  std::printf("step %4lld  loss %.4f  accuracy %.3f  divergence:",
              static_cast<long long>(record.step), record.loss, record.accuracy);
  std::map<std::string, const replicascope::LayerStats*>
      by_name;  // in name order, first sync point
  for (const auto& stats : record.layers) by_name.emplace(stats.layer, &stats);
  for (const auto& [name, stats] : by_name)
    std::printf("  %s %.3f", name.c_str(), stats->divergence);
  std::printf("\n");
  const auto it = by_name.find(layer);
  if (it == by_name.end()) return;
  const auto& stats = *it->second;
  channels = std::min<int64_t>(channels, static_cast<int64_t>(stats.mean.size()));
  std::printf("    %-14s %7s", "", "count");
  for (int64_t c = 0; c < channels; ++c)
    std::printf("  %9s %8s", ("mean[" + std::to_string(c) + "]").c_str(), "var");
  std::printf("\n");
  for (const auto& copy : stats.copies)
    print_row("copy " + std::to_string(copy.copy), copy.count, copy.mean, copy.var, channels);
  print_row("synchronized", stats.count, stats.mean, stats.var, channels);
}

}  // namespace

int run_demo(const std::vector<std::string>& raw) {
  std::set<std::string> options{"steps", "layer", "channels"}, switches{"synthetic"};
  add_session_flags(options, switches, {"devices", "batch", "lr", "seed"});
  const Arguments args(raw, options, switches);
  if (!args.positional().empty())
    throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  engine::SessionSpec spec;
  if (args.has("synthetic")) spec.data = "synthetic";
  spec = session_spec(args, spec);
  const int64_t steps = args.get_int("steps", 20, 1, 10'000'000);
  if (spec.batch < 2) throw UsageError("--batch expects at least 2 (BatchNorm needs two values)");
  const auto layer = args.get("layer", "features.1");
  catch_stop_signals();
  auto built = engine::make_session(spec, /*keep_statistics=*/true);
  auto& session = *built.session;

  std::string layers;
  bool found = false;
  for (const auto& module : session.model().modules()) {
    if (!module.synchronized) continue;
    layers += (layers.empty() ? "" : ", ") + module.name;
    found = found || module.name == layer;
  }
  if (!found) {
    throw UsageError("--layer '" + layer + "' is not a synchronized layer of the demo model (" +
                     layers + ")");
  }
  const int64_t channels = args.get_int("channels", 3, 1, 64);
  const auto& devices = session.options().devices;
  std::printf(
      "ReplicaScope demo: %lld steps, batch %lld over %s (%zu copies), synchronized BN, %s\n",
      static_cast<long long>(steps), static_cast<long long>(spec.batch),
      format_devices(devices).c_str(), devices.size(),
      built.data_spec == "fashion-mnist" ? "Fashion-MNIST" : "synthetic images");
  std::printf(
      "table: layer %s, per channel: local mean and var; divergence: max over copies and "
      "channels of |local mean - synced mean| / synced std\n\n",
      layer.c_str());
  int64_t done = 0;  // Ctrl-C, SIGTERM or SIGHUP stop it after the step in progress
  for (; done < steps && !stop_requested(); ++done) print_step(session.step(), layer, channels);
  std::fflush(stdout);
  if (done == steps) return 0;
  std::fprintf(stderr, "replicascope-cli demo: %s: stopped at step %lld of %lld\n",
               signal_name(stop_signal()).c_str(), static_cast<long long>(done),
               static_cast<long long>(steps));
  return 128 + stop_signal();
}

}  // namespace replicascope::cli
