// SPDX-License-Identifier: GPL-3.0-or-later
// The CLI's commands.
#pragma once

#include <string>
#include <vector>

namespace replicascope::cli {

struct Command {
  const char* name;
  const char* summary;
  const char* usage;  // printed by --help
  int (*run)(const std::vector<std::string>& args);
};

int run_demo(const std::vector<std::string>& args);
extern const char* const kDemoUsage;
int run_inspect(const std::vector<std::string>& args);
extern const char* const kInspectUsage;
int run_wiring(const std::vector<std::string>& args);
extern const char* const kWiringUsage;
int run_verify(const std::vector<std::string>& args);
extern const char* const kVerifyUsage;
int run_train(const std::vector<std::string>& args);
extern const char* const kTrainUsage;
int run_export(const std::vector<std::string>& args);
extern const char* const kExportUsage;
int run_runs(const std::vector<std::string>& args);
extern const char* const kRunsUsage;
int run_diagnose(const std::vector<std::string>& args);
extern const char* const kDiagnoseUsage;
int run_launch(const std::vector<std::string>& args);
extern const char* const kLaunchUsage;

}  // namespace replicascope::cli
