// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope-cli diagnose: what is wrong in a recorded run, as a compiler says it.
#include <iostream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/findings_output.h"
#include "replicascope/diagnose/diagnosis.h"
#include "replicascope/store/run_reader.h"

namespace replicascope::cli {

const char* const kDiagnoseUsage =
    "usage: replicascope-cli diagnose RUN.sqlite [--json] [--severity note|warning|error]\n\n"
    "Reads a recorded run step by step and says what is wrong in it: one line per finding,\n"
    "errors first, then warnings, then notes, each by its first step,\n"
    "  RUN: warning [loss-explodes] steps 12-20: the figures that decided it\n"
    "then why it matters and what to do, and last the kinds this version cannot check in the\n"
    "run. The kinds: nonfinite, loss-explodes, uneven-copies, small-per-copy-batch,\n"
    "copies-see-different-data (docs/findings.md).\n\n"
    "options:\n"
    "  --json             print the findings as a JSON array instead\n"
    "  --severity LEVEL   the least severity shown and counted: note, warning (default) or\n"
    "                     error\n\n"
    "Exit status: 0 when no finding is at or above --severity, 6 when some are; 1 for a run that\n"
    "cannot be read, 2 for a bad option.\n";

namespace {

// What diagnose's exit status says: some finding at or above the severity asked for.
constexpr int kFoundStatus = 6;

diagnose::Severity severity_of(const Arguments& args) {
  const auto name = args.get("severity", "warning");
  try {
    return diagnose::parse_severity(name);
  } catch (const std::invalid_argument&) {
    throw UsageError("--severity expects note, warning or error, got '" + name + "'");
  }
}

}  // namespace

int run_diagnose(const std::vector<std::string>& raw) {
  const Arguments args(raw, {"severity"}, {"json"});
  if (args.positional().size() != 1) throw UsageError("expected one RUN.sqlite");
  const auto least = severity_of(args);
  const auto& path = args.positional()[0];
  const store::RunReader run(path);
  std::vector<diagnose::Finding> shown;
  size_t hidden = 0;  // below --severity
  for (auto& f : diagnose::diagnose_run(run)) {
    if (f.severity >= least) {
      shown.push_back(std::move(f));
    } else {
      ++hidden;
    }
  }
  if (args.has("json")) {
    print_findings_json(std::cout, shown);
    return shown.empty() ? 0 : kFoundStatus;
  }
  for (const auto& f : shown) print_finding(std::cout, f, path);
  if (shown.empty())
    std::cout << path << ": no findings" << (hidden ? " at or above " : "")
              << (hidden ? diagnose::severity_name(least) : "") << "\n";
  if (hidden) {
    std::cout << path << ": " << hidden << " finding(s) below " << diagnose::severity_name(least)
              << " left out (--severity note shows every one)\n";
  }
  const auto unchecked = not_checked_line(path, diagnose::run_facts(run));
  if (!unchecked.empty()) std::cout << unchecked << "\n";
  return shown.empty() ? 0 : kFoundStatus;
}

}  // namespace replicascope::cli
