// SPDX-License-Identifier: MIT
// Stopping cleanly on SIGINT (Ctrl-C), SIGTERM and SIGHUP. The handlers only note the signal
// (async-signal-safe: an atomic, and one byte down a pipe); loops look at stop_signal() at their
// step boundaries, finish or drop the step in progress, close their files whole and exit with
// 128 + the signal, as a shell reports a process the signal ended (130, 143, 129). A second
// signal ends the process at once, as the default action would: SQLite's transactions keep a run
// file whole then, only the fold of its write-ahead log into the file is lost.
#pragma once

#include <array>
#include <stdexcept>
#include <string>

namespace replicascope {

// Installs the handlers, once per process. A signal the process was started ignoring (nohup's
// SIGHUP, SIGINT in a shell's background job) stays ignored. Repeats sent by the process that
// REPLICASCOPE_LAUNCH_PID names (`replicascope-cli launch` sets it for its ranks) are not a
// second signal: launch passes on every signal it gets, also those its ranks got from the
// terminal themselves, and kills the ranks on its own when asked twice.
void catch_stop_signals();
// The first stop signal that arrived, 0 while none did.
int stop_signal();
inline bool stop_requested() {
  return stop_signal() != 0;
}
// "SIGINT", "SIGTERM", "SIGHUP", else "signal N".
std::string signal_name(int signal);
// Becomes readable when a stop signal arrives (the read end of a pipe the handler writes one
// byte to), for an event loop that waits on files (Qt's QSocketNotifier); -1 before
// catch_stop_signals().
int stop_signal_fd();

// Thrown at a step boundary, once a stop signal arrived, by code that cannot return early; what()
// says where it stopped and what was kept.
class StoppedBySignal : public std::runtime_error {
 public:
  StoppedBySignal(int signal, const std::string& what)
      : std::runtime_error(what), signal_(signal) {}
  int signal() const { return signal_; }
  // 128 + the signal: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP.
  int exit_status() const { return 128 + signal_; }

 private:
  int signal_;
};

// Throws StoppedBySignal(stop_signal(), what) once a stop signal arrived. Cheap (one atomic
// load): loops call it per row.
inline void stop_here_if_signalled(const char* what) {
  if (stop_requested()) throw StoppedBySignal(stop_signal(), what);
}

// Voting to stop over several processes, so that all stop after the same step (a process
// blocked in a collective cannot stop alone): each adds its stop_votes() (one slot per stop
// signal, 1 for the one that arrived) into a sum over the processes; voted_stop_signal(sum) then
// gives every process the same decision: 0 to go on, else its own signal or the first another
// process got.
constexpr int kStopVotes = 3;
std::array<double, kStopVotes> stop_votes();
int voted_stop_signal(const double* summed_votes);

namespace testing {
// As if `signal` had arrived first (0: as if none had), for tests.
void set_stop_signal(int signal);
}  // namespace testing

}  // namespace replicascope
