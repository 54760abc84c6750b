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
#include "replicascope/dist/process_group.h"

extern char** environ;

namespace replicascope::cli {

const char* const kLaunchUsage =
    "usage: replicascope-cli launch --nproc N [--port P] [--grace S] -- COMMAND [ARGS...]\n\n"
    "Starts N copies of COMMAND on this machine, each with torchrun's environment: RANK and\n"
    "LOCAL_RANK (0..N-1), WORLD_SIZE=N, MASTER_ADDR=127.0.0.1, MASTER_PORT. Waits for all; when\n"
    "one fails (exits non-zero or dies by a signal), gives the others the grace period to fail\n"
    "on their own (they do, within their --timeout, saying where), then stops them (SIGTERM,\n"
    "and SIGKILL 2 s later) and exits 1 naming the rank. The children die with this process.\n\n"
    "  replicascope-cli launch --nproc 2 -- replicascope-cli train --dist --devices cpu:2\n\n"
    "options:\n"
    "  --nproc N   processes (1 to 64)\n"
    "  --port P    MASTER_PORT (default: a free port)\n"
    "  --grace S   seconds the others get after a failure before SIGTERM (default 10)\n";

namespace {

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  return "stopped";
}

// The environment of rank `rank`: this process's, with torchrun's variables set for the rank.
std::vector<std::string> rank_environment(int rank, int nproc, int port) {
  const std::vector<std::pair<std::string, std::string>> ours{
      {"RANK", std::to_string(rank)},
      {"LOCAL_RANK", std::to_string(rank)},
      {"WORLD_SIZE", std::to_string(nproc)},
      {"MASTER_ADDR", "127.0.0.1"},
      {"MASTER_PORT", std::to_string(port)}};
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

// Waits for every child. When one fails (exits non-zero or dies by a signal), the others get
// `grace` seconds, then SIGTERM, then SIGKILL. Returns 1 naming the first failure, else 0.
int supervise(const std::vector<pid_t>& children, double grace) {
  using clock = std::chrono::steady_clock;
  int failed_rank = -1;
  std::string failure;
  size_t running = children.size();
  std::vector<bool> done(children.size(), false);
  auto signal_at = clock::time_point::max();
  int next_signal = SIGTERM;
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, failed_rank >= 0 ? WNOHANG : 0);
    if (pid > 0) {
      const auto r =
          static_cast<size_t>(std::find(children.begin(), children.end(), pid) - children.begin());
      if (r == children.size()) continue;
      done[r] = true;
      --running;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && failed_rank < 0) {
        failed_rank = static_cast<int>(r);
        failure = describe_status(status);
        std::fprintf(stderr, "launch: rank %zu %s; the other ranks get %.0f s to end\n", r,
                     failure.c_str(), grace);
        signal_at = clock::now() + std::chrono::milliseconds(static_cast<int64_t>(grace * 1000));
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (failed_rank < 0) continue;
    if (clock::now() > signal_at) {
      for (size_t o = 0; o < children.size(); ++o) {
        if (!done[o]) ::kill(children[o], next_signal);
      }
      next_signal = SIGKILL;
      signal_at = clock::now() + std::chrono::seconds(2);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (failed_rank < 0) return 0;
  std::fprintf(stderr, "launch: failed: rank %d %s\n", failed_rank, failure.c_str());
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
  return supervise(start_ranks({separator + 1, raw.end()}, nproc, port), grace);
}

}  // namespace replicascope::cli
