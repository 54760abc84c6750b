// SPDX-License-Identifier: MIT
#include "replicascope/base/stop_signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <iterator>
#include <mutex>

namespace replicascope {
namespace {

// What a signal handler may touch: a lock-free atomic, plain ints set before it is installed.
static_assert(std::atomic<int>::is_always_lock_free, "a signal handler needs a lock-free atomic");
std::atomic<int> first_signal{0};
int pipe_ends[2] = {-1, -1};
pid_t launcher = 0;  // REPLICASCOPE_LAUNCH_PID

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

void on_stop_signal(int signal, siginfo_t* info, void*) {
  const int saved_errno = errno;
  int none = 0;
  if (first_signal.compare_exchange_strong(none, signal)) {
    const char byte = 1;
    if (pipe_ends[1] >= 0 && ::write(pipe_ends[1], &byte, 1) < 0) {
      // a full pipe already says it
    }
  } else if (!(launcher > 0 && info && info->si_code == SI_USER && info->si_pid == launcher)) {
    // A second signal: end now, as the default action would (the signal is blocked while its
    // handler runs, and delivered again, now fatal, when it returns).
    ::signal(signal, SIG_DFL);
    ::raise(signal);
  }
  errno = saved_errno;
}

}  // namespace

void catch_stop_signals() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (::pipe2(pipe_ends, O_CLOEXEC | O_NONBLOCK) != 0) pipe_ends[0] = pipe_ends[1] = -1;
    if (const char* pid = std::getenv("REPLICASCOPE_LAUNCH_PID")) launcher = std::atoi(pid);
    struct sigaction action {};
    action.sa_sigaction = on_stop_signal;
    // Restarted system calls: the libraries below (Gloo, SQLite, Qt) are not interrupted.
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (const int signal : kStopSignals) sigaddset(&action.sa_mask, signal);
    for (const int signal : kStopSignals) {
      struct sigaction current {};
      if (::sigaction(signal, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) continue;
      ::sigaction(signal, &action, nullptr);
    }
  });
}

int stop_signal() {
  return first_signal.load(std::memory_order_relaxed);
}

std::string signal_name(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "signal " + std::to_string(signal);
  }
}

int stop_signal_fd() {
  return pipe_ends[0];
}

std::array<double, kStopVotes> stop_votes() {
  static_assert(std::size(kStopSignals) == kStopVotes);
  std::array<double, kStopVotes> votes{};
  for (int k = 0; k < kStopVotes; ++k) votes[k] = stop_signal() == kStopSignals[k] ? 1.0 : 0.0;
  return votes;
}

int voted_stop_signal(const double* summed_votes) {
  int voted = 0;
  for (int k = kStopVotes; k-- > 0;) {
    if (summed_votes[k] > 0) voted = kStopSignals[k];
  }
  // A signal that came after this process voted waits for the next vote, as the others do.
  return voted && stop_signal() ? stop_signal() : voted;
}

namespace testing {
void set_stop_signal(int signal) {
  first_signal.store(signal);
}
}  // namespace testing

}  // namespace replicascope
