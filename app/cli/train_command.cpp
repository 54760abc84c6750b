// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope-cli train: a training session on real or synthetic data, recorded to a run file.
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/findings_output.h"
#include "cli/session_args.h"
#include "replicascope/base/records.h"
#include "replicascope/base/stop_signals.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/engine/session_factory.h"
#include "replicascope/nn/fault_injection.h"
#include "replicascope/parallel/devices.h"

namespace replicascope::cli {

const char* const kTrainUsage =
    "usage: replicascope-cli train [options]\n\n"
    "Trains a model data-parallel with synchronized BatchNorm and, with --run, records every\n"
    "step (loss, accuracy, and per synchronized layer and copy the count, per-channel mean and\n"
    "variance, the synchronized and running statistics, the divergence) to a SQLite run file.\n"
    "On a terminal it shows a progress bar; otherwise a line every tenth of the run.\n\n"
    "options:\n" REPLICASCOPE_SESSION_USAGE
    "  --steps N           training steps (default 100)\n"
    "  --run FILE.sqlite   record the run there (a new file; with --dist, rank 0 "
    "records)\n" REPLICASCOPE_DIST_USAGE
    "\nWith --dist every rank draws the same batch and trains on its share on its --devices;\n"
    "BatchNorm statistics and gradients are reduced over all ranks, the gradients in\n"
    "buckets that start during backward. Rank 0 prints and records, with every rank's\n"
    "statistics and the wiring of every rank's copies.\n\n"
    "A step whose loss or statistics are NaN or infinite is recorded as it is and marked; the\n"
    "training goes on unless --stop-on-nonfinite is given, which stops there with exit status 5.\n";

namespace {

// A progress bar on a terminal, a line every tenth of the run otherwise.
class Progress {
 public:
  explicit Progress(int64_t total) : total_(total), terminal_(::isatty(STDERR_FILENO)) {}
  // Ends the bar's line when the run stops before its last step (a stop signal).
  void end_line() {
    if (terminal_) std::fprintf(stderr, "\n");
  }
  void update(const replicascope::StepRecord& r) {
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

#ifdef REPLICASCOPE_TEST_HOOKS
// Faults for the failure tests (built only with -DREPLICASCOPE_TEST_HOOKS=ON, as the test build
// is), from the environment: REPLICASCOPE_KILL_RANK_AT=R:K makes rank R kill itself (SIGKILL)
// before its step K; REPLICASCOPE_STALL_RANK_AT=R:K makes it stop calling there (it sleeps until
// killed).
void inject_faults(const dist::ProcessGroup* group, int64_t step) {
  for (const char* variable : {"REPLICASCOPE_KILL_RANK_AT", "REPLICASCOPE_STALL_RANK_AT"}) {
    const char* spec = std::getenv(variable);
    int rank = -1;
    long long at = 0;
    if (!group || !spec || std::sscanf(spec, "%d:%lld", &rank, &at) != 2) continue;
    if (rank != group->rank() || step != at) continue;
    if (variable[13] == 'K') ::raise(SIGKILL);  // a rank dying mid-run
    for (;;) ::pause();                         // a rank that stops calling
  }
}

// REPLICASCOPE_DROP_LAST_COPY=1 breaks the synchronization for any command of this binary, from
// its start: every reduction leaves the last copy's statistics out (bench/verify_zoo.py checks
// that verify catches it on real models).
const bool kDropsLastCopy = [] {
  const char* drop = std::getenv("REPLICASCOPE_DROP_LAST_COPY");
  const bool on = drop && std::string(drop) == "1";
  if (on) nn::testing::drop_last_copy_statistics(true);
  return on;
}();

// REPLICASCOPE_SORT_BATCH_BY_LABEL=1 sorts every batch by label before it is split over the
// copies: copies that see different data (bench/findings_rates.py plants it).
const bool kSortsBatches = [] {
  const char* sort = std::getenv("REPLICASCOPE_SORT_BATCH_BY_LABEL");
  const bool on = sort && std::string(sort) == "1";
  if (on) data::testing::sort_batches_by_label(true);
  return on;
}();
#else
void inject_faults(const dist::ProcessGroup*, int64_t) {}
#endif

// What is trained, on what and how long (rank 0 says it).
void announce(const engine::SessionSpec& spec, const engine::BuiltSession& built, int64_t steps) {
  const auto& session = *built.session;
  const auto& model = spec.model;
  const std::string ranks =
      built.group ? " x " + std::to_string(built.group->size()) + " processes" : "";
  std::fprintf(stderr, "training %s on %s%s (%s BatchNorm), %s, batch %lld, %lld steps\n",
               model.empty() ? "the demo CNN" : model.c_str(),
               format_devices(session.options().devices).c_str(), ranks.c_str(),
               !has_batch_norm(built.modules)   ? "no"
               : session.options().synchronized ? "synchronized"
                                                : "per-copy",
               built.data_spec.c_str(), static_cast<long long>(session.options().batch_size),
               static_cast<long long>(steps));
  if (!has_batch_norm(built.modules)) {
    std::fprintf(stderr, "note: %s; the copies train as plain data parallelism\n",
                 nothing_to_synchronize(model).c_str());
  }
  // A tuple's element was chosen: which one, once.
  if (const auto notice = built.output.notice(); !notice.empty()) {
    std::fprintf(stderr, "%s\n", notice.c_str());
  }
}

// What the training loop did.
struct Trained {
  replicascope::StepRecord last;
  int64_t done = 0, first_nonfinite = 0;
  std::string nonfinite;              // what was not finite at first_nonfinite
  bool stopped_on_nonfinite = false;  // --stop-on-nonfinite
  int signal = 0;                     // the stop signal it stopped on (SIGINT, ...), else 0
  bool dropped = false;               // the step in progress failed after the stop signal
};

// Says a non-finite step (rank 0), and whether --stop-on-nonfinite stops there.
void note_nonfinite(const engine::SessionSpec& spec, const engine::BuiltSession& built,
                    Trained& t) {
  const auto& last = t.last;
  const auto part = replicascope::nonfinite_part(last);
  // Ranks stop together on what they all share, the loss and accuracy of the whole batch;
  // alone, every value counts.
  t.stopped_on_nonfinite =
      spec.stop_on_nonfinite &&
      (built.group ? !std::isfinite(last.loss) || !std::isfinite(last.accuracy) : !part.empty());
  if (part.empty() || (t.first_nonfinite && !t.stopped_on_nonfinite)) return;
  if (!t.first_nonfinite) {
    t.first_nonfinite = last.step;
    t.nonfinite = part;
  }
  if (built.rank0()) {
    std::fprintf(stderr, "step %lld: not finite: %s; %s\n", static_cast<long long>(last.step),
                 part.c_str(),
                 t.stopped_on_nonfinite ? "stopping (--stop-on-nonfinite)"
                                        : "recorded and marked, training goes on");
  }
}

// Steps until `steps`, a non-finite step with --stop-on-nonfinite, or a stop signal (Ctrl-C,
// SIGTERM, SIGHUP), which ends the loop after the step in progress: with --dist at the first
// step whose end every rank agrees on (Session::agreed_stop_signal).
Trained train_steps(const engine::SessionSpec& spec, engine::BuiltSession& built, int64_t steps) {
  auto& session = *built.session;
  Progress progress(steps);
  Trained t;
  while (t.done < steps && !t.stopped_on_nonfinite) {
    t.signal = session.agreed_stop_signal();
    if (t.signal) break;
    inject_faults(built.group.get(), t.done + 1);
    try {
      t.last = session.step();
    } catch (const std::exception&) {
      engine::record_failed_step(built);  // a sync point's failure, for diagnose
      if (built.rank0())
        say_new_findings(session.diagnosis(), built.run ? built.run->path() : "train");
      // A collective that fails after a stop signal: the other ranks stopped, or launch ended
      // them. This rank keeps the steps it finished.
      if (!built.group || !stop_requested()) throw;
      t.signal = stop_signal();
      t.dropped = true;
      break;
    }
    ++t.done;
    if (built.run) built.run->append(t.last);
    if (built.rank0()) {
      progress.update(t.last);
      say_new_findings(session.diagnosis(), built.run ? built.run->path() : "train");
    }
    note_nonfinite(spec, built, t);
  }
  if (t.signal && built.rank0()) progress.end_line();
  return t;
}

// After a stop signal: the run closed whole, its write-ahead log folded into the .sqlite file
// (which users copy and move alone), and what to say about it.
std::string close_after_stop(engine::BuiltSession& built, const Trained& t) {
  auto note = signal_name(t.signal) + ": stopped at step " + std::to_string(t.done);
  if (built.run) {
    const auto held = built.run->steps_held();
    built.run->close();
    note += "; the run holds " + std::to_string(held) + " steps (" + built.run->path() + ")";
  }
  if (t.dropped) {
    note += "; step " + std::to_string(t.done + 1) +
            " was dropped: its collectives failed (the other ranks are gone)";
  }
  return note;
}

}  // namespace

int run_train(const std::vector<std::string>& raw) {
  std::set<std::string> options{"steps"}, switches;
  add_session_flags(options, switches);
  const Arguments args(raw, options, switches);
  if (!args.positional().empty())
    throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  const int64_t steps = args.get_int("steps", 100, 1, int64_t{1} << 40);
  const auto spec = session_spec(args);
  catch_stop_signals();  // from here on Ctrl-C stops after a step and closes the run whole
  auto built = engine::make_session(spec, /*keep_statistics=*/false, steps);
  const bool rank0 = built.rank0();
  if (rank0) announce(spec, built, steps);
  const auto start = std::chrono::steady_clock::now();
  const auto trained = train_steps(spec, built, steps);
  const auto stop_note = trained.signal ? close_after_stop(built, trained) : "";
  // 128 + the signal, as a shell reports a process the signal ended; 5: stopped at a non-finite
  // step, as asked (a diverging run that was not asked to stop is a recorded run like any other).
  const int status = trained.signal ? 128 + trained.signal : trained.stopped_on_nonfinite ? 5 : 0;
  if (!rank0) return status;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& last = trained.last;
  std::printf("trained %lld steps: loss %.4f, accuracy %.3f, %.2f steps/s%s%s\n",
              static_cast<long long>(trained.done), last.loss, last.accuracy,
              trained.done / seconds, built.run ? ", recorded to " : "",
              built.run ? built.run->path().c_str() : "");
  if (trained.first_nonfinite) {
    std::printf("not finite from step %lld on (%s)\n",
                static_cast<long long>(trained.first_nonfinite), trained.nonfinite.c_str());
  }
  if (!stop_note.empty()) {
    std::fflush(stdout);
    std::fprintf(stderr, "replicascope-cli train: %s\n", stop_note.c_str());
  }
  return status;
}

}  // namespace replicascope::cli
