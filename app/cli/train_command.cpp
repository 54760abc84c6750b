// replicascope-cli train: a training session on real or synthetic data, recorded to a run file.
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/dist_options.h"
#include "replicascope/devices.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/engine/wiring.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/store/run_store.h"

namespace replicascope::cli {

const char* const kTrainUsage =
    "usage: replicascope-cli train [options]\n\n"
    "Trains a model data-parallel with synchronized BatchNorm and, with --run, records every\n"
    "step (loss, accuracy, and per synchronized layer and copy the count, per-channel mean and\n"
    "variance, the synchronized and running statistics, the divergence) to a SQLite run file.\n"
    "On a terminal it shows a progress bar; otherwise a line every tenth of the run.\n\n"
    "options:\n"
    "  --model FILE.pt     a TorchScript model (default: the built-in demo CNN, 1x28x28 input)\n"
    "  --data SPEC         fashion-mnist (Debian's dataset-fashion-mnist; the default when\n"
    "                      installed), synthetic (the default otherwise), idx:IMAGES,LABELS\n"
    "                      (MNIST format, .gz or plain), cifar10:FILE[,FILE...] (binary batches)\n"
    "  --image C,H,W       sample shape of synthetic data (default 1,28,28)\n"
    "  --devices LIST      copies: cpu:N, or cuda:I,J (default cpu:4)\n"
    "  --batch N           whole batch per step, split over the copies (default 32)\n"
    "  --steps N           training steps (default 100)\n"
    "  --optimizer NAME    sgd (momentum 0.9) or adam (default sgd)\n"
    "  --lr X              learning rate (default 0.05 for sgd, 0.001 for adam)\n"
    "  --weight-decay X    (default 0)\n"
    "  --loss NAME         ce (cross-entropy) or mse (on one-hot targets) (default ce)\n"
    "  --seed N            weights, data order and synthetic data (default 0)\n"
    "  --unsync            per-copy BatchNorm instead of synchronized, to compare\n"
    "  --run FILE.sqlite   record the run there (a new file; with --dist, rank 0 "
    "records)\n" REPLICASCOPE_DIST_USAGE
    "\nWith --dist every rank draws the same batch and trains on its share on its --devices;\n"
    "BatchNorm statistics and gradients are reduced over all ranks, the gradients in\n"
    "buckets that start during backward. Rank 0 prints and records, with every rank's\n"
    "statistics and the wiring of every rank's copies.\n";

namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

std::unique_ptr<data::Dataset> load_data(const std::string& spec, const Arguments& args,
                                         uint64_t seed) {
  if (spec == "fashion-mnist") {
    const auto paths = data::installed_fashion_mnist();
    if (!paths) {
      throw std::invalid_argument(
          "--data fashion-mnist: not installed (apt-get install dataset-fashion-mnist), or use "
          "--data synthetic");
    }
    return data::load_idx(paths->images, paths->labels);
  }
  if (spec == "synthetic") {
    auto shape = args.get_sizes("image");
    if (shape.empty()) shape = {1, 28, 28};
    if (shape.size() != 3) throw UsageError("--image expects C,H,W");
    return data::make_synthetic(shape, 10, 4096, seed);
  }
  if (spec.rfind("idx:", 0) == 0) {
    const auto files = split(spec.substr(4), ',');
    if (files.size() != 2) throw UsageError("--data idx: expects idx:IMAGES,LABELS");
    return data::load_idx(files[0], files[1]);
  }
  if (spec.rfind("cifar10:", 0) == 0) return data::load_cifar10(split(spec.substr(8), ','));
  throw UsageError(
      "--data expects fashion-mnist, synthetic, idx:IMAGES,LABELS or "
      "cifar10:FILE[,FILE...], got '" +
      spec + "'");
}

// A progress bar on a terminal, a line every tenth of the run otherwise.
class Progress {
 public:
  explicit Progress(int64_t total) : total_(total), terminal_(::isatty(STDERR_FILENO)) {}
  void update(const engine::StepRecord& r) {
    const double elapsed = std::chrono::duration<double>(clock::now() - start_).count();
    const double rate = r.step / std::max(elapsed, 1e-9);
    const double eta = (total_ - r.step) / std::max(rate, 1e-9);
    if (terminal_) {
      const int width = 30, filled = static_cast<int>(width * r.step / total_);
      std::fprintf(stderr, "\r[%s%s] %lld/%lld  %.1f steps/s  ETA %.0f s  loss %.4f ",
                   std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                   static_cast<long long>(r.step), static_cast<long long>(total_), rate, eta,
                   r.loss);
      if (r.step == total_) std::fprintf(stderr, "\n");
    } else if (r.step == total_ || r.step % std::max<int64_t>(1, total_ / 10) == 0) {
      std::fprintf(stderr, "step %lld/%lld  %.1f steps/s  ETA %.0f s  loss %.4f  accuracy %.3f\n",
                   static_cast<long long>(r.step), static_cast<long long>(total_), rate, eta,
                   r.loss, r.accuracy);
    }
  }

 private:
  using clock = std::chrono::steady_clock;
  int64_t total_;
  bool terminal_;
  clock::time_point start_ = clock::now();
};

// Faults for the failure tests, from the environment: REPLICASCOPE_KILL_RANK_AT=R:K makes rank R
// kill itself (SIGKILL) before its step K; REPLICASCOPE_STALL_RANK_AT=R:K makes it stop calling
// there (it sleeps until killed). 0 when the variable does not apply to this rank.
int64_t fault_step(const char* variable, const dist::ProcessGroup* group) {
  const char* spec = std::getenv(variable);
  if (!group || !spec) return 0;
  int rank = -1;
  long long step = 0;
  if (std::sscanf(spec, "%d:%lld", &rank, &step) != 2) return 0;
  return rank == group->rank() ? step : 0;
}

}  // namespace

int run_train(const std::vector<std::string>& raw) {
  const Arguments args(raw,
                       {"model", "data", "image", "devices", "batch", "steps", "optimizer", "lr",
                        "weight-decay", "loss", "seed", "run", "timeout", "backend"},
                       {"unsync", "dist"});
  if (!args.positional().empty())
    throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  engine::SessionOptions options;
  options.devices = parse_devices(args.get("devices", "cpu:4"));
  options.batch_size = args.get_int("batch", 32, 1, 1 << 20);
  const int64_t steps = args.get_int("steps", 100, 1, int64_t{1} << 40);
  const auto optimizer = args.get("optimizer", "sgd");
  if (optimizer != "sgd" && optimizer != "adam")
    throw UsageError("--optimizer expects sgd or adam");
  options.optimizer =
      optimizer == "adam" ? engine::OptimizerKind::kAdam : engine::OptimizerKind::kSgd;
  options.learning_rate = args.get_double("lr", optimizer == "adam" ? 0.001 : 0.05);
  options.weight_decay = args.get_double("weight-decay", 0.0);
  const auto loss = args.get("loss", "ce");
  if (loss != "ce" && loss != "mse") throw UsageError("--loss expects ce or mse");
  options.loss = loss == "mse" ? engine::LossKind::kMse : engine::LossKind::kCrossEntropy;
  options.seed = static_cast<uint64_t>(args.get_int("seed", 0, 0, INT64_MAX));
  options.synchronized = !args.has("unsync");

  options.group = join_if_dist(args, options.devices);
  const bool rank0 = !options.group || options.group->rank() == 0;
  const auto model_path = args.get("model", "");
  const auto data_spec =
      args.get("data", data::installed_fashion_mnist() ? "fashion-mnist" : "synthetic");
  std::shared_ptr<const data::Dataset> dataset = load_data(data_spec, args, options.seed);
  auto factory = model_path.empty() ? engine::demo_model(dataset->classes())
                                    : engine::scripted_model(model_path);
  options.record_statistics = args.has("run") && rank0;
  engine::Session session(factory, dataset, options);

  std::unique_ptr<store::RunWriter> run;
  if (args.has("run")) {
    // Every rank takes part in gathering the wiring; rank 0 records it.
    auto wiring = engine::wiring_of(session.replicas(), session.model().modules());
    if (options.group) wiring = engine::gather_wiring(wiring, *options.group);
    if (rank0) {
      auto meta = engine::run_metadata(options, model_path, data_spec);
      meta["wiring"] = engine::wiring_to_text(wiring);
      run = std::make_unique<store::RunWriter>(args.get("run", ""), meta);
    }
  }
  const std::string ranks =
      options.group ? " x " + std::to_string(options.group->size()) + " processes" : "";
  if (rank0)
    std::fprintf(stderr, "training %s on %s%s (%s BatchNorm), %s, batch %lld, %lld steps\n",
                 model_path.empty() ? "the demo CNN" : model_path.c_str(),
                 format_devices(options.devices).c_str(), ranks.c_str(),
                 options.synchronized ? "synchronized" : "per-copy", data_spec.c_str(),
                 static_cast<long long>(options.batch_size), static_cast<long long>(steps));
  Progress progress(steps);
  engine::StepRecord last;
  const auto start = std::chrono::steady_clock::now();
  const auto kill_at = fault_step("REPLICASCOPE_KILL_RANK_AT", options.group.get());
  const auto stall_at = fault_step("REPLICASCOPE_STALL_RANK_AT", options.group.get());
  for (int64_t i = 0; i < steps; ++i) {
    if (i + 1 == kill_at) ::raise(SIGKILL);  // a rank dying mid-run
    while (i + 1 == stall_at) ::pause();     // a rank that stops calling
    last = session.step();
    if (run) run->append(last);
    if (rank0) progress.update(last);
  }
  if (!rank0) return 0;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("trained %lld steps: loss %.4f, accuracy %.3f, %.2f steps/s%s%s\n",
              static_cast<long long>(steps), last.loss, last.accuracy, steps / seconds,
              run ? ", recorded to " : "", run ? run->path().c_str() : "");
  return 0;
}

}  // namespace replicascope::cli
