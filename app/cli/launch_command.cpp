// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope-cli launch: N local processes with torchrun's environment, for a quick
// multi-process run. If one fails, the others are stopped: no orphans, no hang.
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "replicascope/base/stop_signals.h"
#include "replicascope/dist/process_group.h"

extern char** environ;

namespace replicascope::cli {

const char* const kLaunchUsage =
    "usage: replicascope-cli launch --nproc N [--port P] [--grace S] -- COMMAND [ARGS...]\n\n"
    "Starts N copies of COMMAND on this machine, each with torchrun's environment: RANK and\n"
    "LOCAL_RANK (0..N-1), WORLD_SIZE=N, MASTER_ADDR=127.0.0.1, MASTER_PORT. Waits for all; when\n"
    "one fails (exits non-zero or dies by a signal), gives the others the grace period to fail\n"
    "on their own (they do, within their --timeout, saying where), then stops them (SIGTERM;\n"
    "SIGKILL 2 s later, rank 0, which records, 2 s after the others) and exits 1 naming the\n"
    "rank; when it exited with an error while another rank was stopped (SIGSTOP) or went on\n"
    "running through the grace period, that rank is named first, as the one that stopped\n"
    "answering. Ctrl-C, SIGTERM or SIGHUP is passed on to every rank (train and verify stop\n"
    "after a step every rank agrees on), which get the grace period to stop before SIGKILL;\n"
    "launch then exits with 128 + the signal. The children die with this process.\n\n"
    "  replicascope-cli launch --nproc 2 -- replicascope-cli train --dist --devices cpu:2\n\n"
    "options:\n"
    "  --nproc N   processes (1 to 64)\n"
    "  --port P    MASTER_PORT (default: a free port)\n"
    "  --grace S   seconds the others get after a failure before SIGTERM, or after a stop\n"
    "              signal before SIGKILL (default 10)\n";

namespace {

// "signal 19 (Stopped (signal))"
std::string signal_text(int signal) {
  return "signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by " + signal_text(WTERMSIG(status));
  return "stopped";
}

// The environment of rank `rank`: this process's, with torchrun's variables set for the rank.
std::vector<std::string> rank_environment(int rank, int nproc, int port) {
  const std::vector<std::pair<std::string, std::string>> ours{
      {"RANK", std::to_string(rank)},
      {"LOCAL_RANK", std::to_string(rank)},
      {"WORLD_SIZE", std::to_string(nproc)},
      {"MASTER_ADDR", "127.0.0.1"},
      {"MASTER_PORT", std::to_string(port)},
      // Which signals are this launch's repeats (base/stop_signals.h)
      {"REPLICASCOPE_LAUNCH_PID", std::to_string(::getpid())}};
  std::vector<std::string> out;
  for (char** entry = environ; *entry; ++entry) {
    const std::string text(*entry);
    const bool replaced = std::any_of(ours.begin(), ours.end(), [&](const auto& variable) {
      return text.compare(0, variable.first.size() + 1, variable.first + "=") == 0;
    });
    if (!replaced) out.push_back(text);
  }
  for (const auto& [name, value] : ours) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& text : strings) out.push_back(text.data());
  out.push_back(nullptr);
  return out;
}

// Starts `command` once per rank with torchrun's variables for it; returns the children.
std::vector<pid_t> start_ranks(std::vector<std::string> command, int nproc, int port) {
  auto argv = pointers(command);
  const std::string exec_failed = "launch: cannot run '" + command.front() + "': ";
  std::vector<pid_t> children;
  for (int rank = 0; rank < nproc; ++rank) {
    // Everything the child needs is made before fork: between fork and exec a child of a
    // threaded process may only call async-signal-safe functions (no setenv, no malloc).
    auto environment = rank_environment(rank, nproc, port);
    auto envp = pointers(environment);
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (pid_t child : children) ::kill(child, SIGKILL);
      throw std::runtime_error(std::string("cannot start a process: ") + std::strerror(errno));
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no orphan if launch itself dies
      ::execvpe(argv[0], argv.data(), envp.data());
      const char* reason = ::strerror(errno);  // glibc's table: no allocation
      for (const auto& [text, size] :
           {std::pair<const char*, size_t>{exec_failed.data(), exec_failed.size()},
            {reason, std::strlen(reason)},
            {"\n", 1}}) {
        if (::write(STDERR_FILENO, text, size) < 0) break;
      }
      ::_exit(127);
    }
    children.push_back(pid);
  }
  return children;
}

using Clock = std::chrono::steady_clock;

// A rank's process as launch sees it.
struct Rank {
  pid_t pid = 0;
  bool done = false;
  int stopped_by = 0;            // the signal that stopped it (SIGSTOP, SIGTSTP), while stopped
  int stopped_when_failed = 0;   // the same, at the first failure or after it
  bool ended_by_launch = false;  // still running when launch began to end the ranks
};

// Waits for every rank. When one fails (exits non-zero or dies by a signal), the others get the
// grace period to fail on their own, then SIGTERM, then SIGKILL: the ranks but rank 0 first,
// which records (its collectives then fail at once and it closes its run file whole), rank 0
// 2 s later. A stop signal that launch gets (Ctrl-C, SIGTERM, SIGHUP) is passed on to every
// rank, which get the grace period to stop, then SIGKILL in the same order.
class Supervisor {
 public:
  Supervisor(const std::vector<pid_t>& pids, double grace) : grace_(grace) {
    for (const pid_t pid : pids) ranks_.push_back({pid});
    running_ = ranks_.size();
  }
  int run() {
    while (running_ > 0) {
      reap();
      if (stop_signal() && !passed_on_) pass_on(stop_signal());
      if (Clock::now() >= next_at_) escalate();
      if (running_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return passed_on_ ? stopped_verdict() : failed_verdict();
  }

 private:
  enum class Next { kTerminate, kKillButRank0, kKillAll, kNothing };

  // Takes every change of state of the ranks (exited, killed, stopped, continued).
  void reap() {
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG | WUNTRACED | WCONTINUED);
      if (pid < 0 && errno == EINTR) continue;
      if (pid < 0) running_ = 0;  // no child left (ECHILD)
      if (pid <= 0) return;
      const auto rank =
          std::find_if(ranks_.begin(), ranks_.end(), [&](const Rank& r) { return r.pid == pid; });
      if (rank == ranks_.end()) continue;
      if (WIFSTOPPED(status)) {
        rank->stopped_by = WSTOPSIG(status);
        if (failed_rank_ >= 0) rank->stopped_when_failed = rank->stopped_by;
      } else if (WIFCONTINUED(status)) {
        rank->stopped_by = 0;
      } else {
        rank->done = true;
        --running_;
        on_end(static_cast<int>(rank - ranks_.begin()), status);
      }
    }
  }

  void on_end(int r, int status) {
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok || failed_rank_ >= 0 || passed_on_) return;
    failed_rank_ = r;
    failure_ = describe_status(status);
    failed_by_exit_ = WIFEXITED(status);
    for (auto& rank : ranks_) rank.stopped_when_failed = rank.stopped_by;
    std::fprintf(stderr, "launch: rank %d %s; the other ranks get %g s to end\n", r,
                 failure_.c_str(), grace_);
    next_at_ = Clock::now() + grace_duration();
    next_ = Next::kTerminate;
  }

  void pass_on(int signal) {
    passed_on_ = signal;
    std::fprintf(stderr, "launch: %s: passed on to the ranks; they get %g s to stop\n",
                 signal_name(signal).c_str(), grace_);
    send(signal, /*spare_rank0=*/false, /*ends=*/false);
    if (next_ == Next::kNothing || next_ == Next::kTerminate) {
      next_at_ = Clock::now() + grace_duration();
      next_ = Next::kKillButRank0;
    }
  }

  void escalate() {
    if (next_ == Next::kNothing) return;
    const auto now = next_;
    next_ = now == Next::kTerminate      ? Next::kKillButRank0
            : now == Next::kKillButRank0 ? Next::kKillAll
                                         : Next::kNothing;
    send(now == Next::kTerminate ? SIGTERM : SIGKILL, now == Next::kKillButRank0,
         /*ends=*/true);
    next_at_ = Clock::now() + std::chrono::seconds(2);
  }

  // `signal` to every rank still running (rank 0 aside when spared); a stopped one is
  // continued, so that it can act on it. `ends`: launch is ending the rank, not passing on.
  void send(int signal, bool spare_rank0, bool ends) {
    for (size_t r = spare_rank0 ? 1 : 0; r < ranks_.size(); ++r) {
      if (ranks_[r].done) continue;
      ::kill(ranks_[r].pid, signal);
      if (ranks_[r].stopped_by && signal != SIGKILL) ::kill(ranks_[r].pid, SIGCONT);
      ranks_[r].ended_by_launch = ranks_[r].ended_by_launch || ends;
    }
  }

  Clock::duration grace_duration() const {
    return std::chrono::milliseconds(static_cast<int64_t>(grace_ * 1000));
  }

  // After a stop signal: 128 + the signal; names the ranks that had to be killed.
  int stopped_verdict() const {
    std::string killed;
    for (size_t r = 0; r < ranks_.size(); ++r) {
      if (ranks_[r].ended_by_launch) killed += (killed.empty() ? "" : ", ") + std::to_string(r);
    }
    if (killed.empty()) {
      std::fprintf(stderr, "launch: %s: every rank stopped\n", signal_name(passed_on_).c_str());
    } else {
      std::fprintf(stderr, "launch: %s: rank %s did not stop within %g s and was killed\n",
                   signal_name(passed_on_).c_str(), killed.c_str(), grace_);
    }
    return 128 + passed_on_;
  }

  int failed_verdict() const;

  std::vector<Rank> ranks_;
  size_t running_ = 0;
  double grace_;
  int failed_rank_ = -1;
  std::string failure_;          // how the first failed rank ended
  bool failed_by_exit_ = false;  // it exited with a status (its own error, or a timeout)
  int passed_on_ = 0;            // the stop signal launch got and passed on
  Clock::time_point next_at_ = Clock::time_point::max();
  Next next_ = Next::kNothing;
};

// 1 naming the first failure, else 0. When that rank exited with an error of its own (a
// collective that timed out, say), the rank it waited for is named first: one that was stopped
// (SIGSTOP), else one that went on running through the grace period while the others failed.
int Supervisor::failed_verdict() const {
  if (failed_rank_ < 0) return 0;
  std::string stopped, outlived;
  for (size_t r = 0; r < ranks_.size(); ++r) {
    const auto& rank = ranks_[r];
    if (static_cast<int>(r) == failed_rank_ || !failed_by_exit_) continue;
    const auto name = "rank " + std::to_string(r);
    if (rank.stopped_when_failed) {
      stopped += (stopped.empty() ? "" : ", ") + name + " stopped answering (it was stopped by " +
                 signal_text(rank.stopped_when_failed) + ")";
    } else if (rank.ended_by_launch) {
      outlived += (outlived.empty() ? "" : ", ") + name;
    }
  }
  if (stopped.empty() && !outlived.empty()) {
    char grace[32];
    std::snprintf(grace, sizeof(grace), "%g", grace_);
    stopped = outlived + " stopped answering (still running " + grace + " s after rank " +
              std::to_string(failed_rank_) + " failed, it had to be ended)";
  }
  std::fprintf(stderr, "launch: failed: %s%srank %d %s\n", stopped.c_str(),
               stopped.empty() ? "" : "; ", failed_rank_, failure_.c_str());
  return 1;
}

}  // namespace

int run_launch(const std::vector<std::string>& raw) {
  const auto separator = std::find(raw.begin(), raw.end(), "--");
  if (separator == raw.end() || separator + 1 == raw.end()) {
    throw UsageError("expected -- and the command to start");
  }
  const Arguments args(std::vector<std::string>(raw.begin(), separator), {"nproc", "port", "grace"},
                       {});
  if (!args.has("nproc")) throw UsageError("expected --nproc N");
  const int nproc = static_cast<int>(args.get_int("nproc", 1, 1, 64));
  const int port = static_cast<int>(args.has("port") ? args.get_int("port", 0, 1, 65535)
                                                     : dist::free_local_port());
  const double grace =
      args.has("grace") ? parse_seconds("--grace", args.get("grace", ""), 3600.0) : 10.0;
  catch_stop_signals();  // passed on to the ranks (Supervisor)
  return Supervisor(start_ranks({separator + 1, raw.end()}, nproc, port), grace).run();
}

}  // namespace replicascope::cli
