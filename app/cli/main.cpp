// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope-cli: the headless face of ReplicaScope.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "replicascope/base/allocator.h"
#include "replicascope/base/describe_error.h"
#include "replicascope/base/stop_signals.h"
#include "replicascope/sync/sync_error.h"

#include "cli/arguments.h"
#include "cli/commands.h"

namespace {

using replicascope::cli::Command;

const Command kCommands[] = {
    {"demo", "train the built-in demo model on N CPU copies and print its statistics",
     replicascope::cli::kDemoUsage, replicascope::cli::run_demo},
    {"inspect", "print the module tree of a TorchScript model", replicascope::cli::kInspectUsage,
     replicascope::cli::run_inspect},
    {"wiring", "print which copies share which replication context, and in what order",
     replicascope::cli::kWiringUsage, replicascope::cli::run_wiring},
    {"verify", "prove that synchronized training on N copies equals full-batch training",
     replicascope::cli::kVerifyUsage, replicascope::cli::run_verify},
    {"train", "train on real or synthetic data and record every step to a run file",
     replicascope::cli::kTrainUsage, replicascope::cli::run_train},
    {"export", "write a recorded run's statistics as CSV or JSON", replicascope::cli::kExportUsage,
     replicascope::cli::run_export},
    {"runs", "list the recorded runs in a folder", replicascope::cli::kRunsUsage,
     replicascope::cli::run_runs},
    {"diagnose", "say what is wrong in a recorded run: findings, errors first",
     replicascope::cli::kDiagnoseUsage, replicascope::cli::run_diagnose},
    {"launch", "start N local processes with torchrun's environment (for train --dist)",
     replicascope::cli::kLaunchUsage, replicascope::cli::run_launch},
};

void print_overview(std::ostream& out) {
  out << "usage: replicascope-cli <command> [options]   (replicascope-cli <command> --help)\n\n"
         "commands:\n";
  for (const auto& command : kCommands)
    out << "  " << command.name << "  " << command.summary << "\n";
}

// What a command printed must have reached its standard output: a full disk or a closed file
// would otherwise cut JSON short behind exit status 0. Flushes both streams and, when either
// failed, says why and makes the status 1.
int checked_output(const std::string& command, int status) {
  std::cout.flush();
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  if (flushed && !std::ferror(stdout) && std::cout.good()) return status;
  const int error = errno;
  std::cerr << "replicascope-cli " << command << ": error: could not write the output to standard "
            << "output (" << (error != 0 ? std::strerror(error) : "write error")
            << "); what was printed is incomplete\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  replicascope::keep_freed_memory_mapped();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_overview(args.empty() ? std::cerr : std::cout);
    return args.empty() ? 2 : 0;
  }
  for (const auto& command : kCommands) {
    if (args[0] != command.name) continue;
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    for (const auto& arg : rest) {
      if (arg == "--") break;  // what follows belongs to another command (launch)
      if (arg == "--help" || arg == "-h") {
        std::cout << command.usage;
        return checked_output(command.name, 0);
      }
    }
    try {
      return checked_output(command.name, command.run(rest));
    } catch (const replicascope::StoppedBySignal& e) {  // Ctrl-C where a command cannot return
      std::cerr << "replicascope-cli " << command.name << ": "
                << replicascope::signal_name(e.signal()) << ": " << e.what() << "\n";
      return checked_output(command.name, e.exit_status());
    } catch (const replicascope::cli::UsageError& e) {
      std::cerr << "replicascope-cli " << command.name << ": " << e.what() << "\n\n"
                << command.usage;
      return 2;
    } catch (const std::exception&) {
      std::cerr << "replicascope-cli " << command.name
                << ": error: " << replicascope::describe(std::current_exception()) << "\n";
      return 1;
    }
  }
  std::cerr << "replicascope-cli: unknown command '" << args[0] << "'\n\n";
  print_overview(std::cerr);
  return 2;
}
