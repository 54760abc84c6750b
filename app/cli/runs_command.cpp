// replicascope-cli runs: the recorded runs in a folder.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "replicascope/store/run_store.h"

namespace replicascope::cli {

const char* const kRunsUsage =
    "usage: replicascope-cli runs DIR\n\n"
    "Lists the run files (*.sqlite) in DIR: steps recorded, last loss and accuracy, model,\n"
    "devices, data, BatchNorm mode and when the run started. Files that are not runs are listed\n"
    "with the reason.\n";

int run_runs(const std::vector<std::string>& raw) {
  const Arguments args(raw, {}, {});
  if (args.positional().size() != 1) throw UsageError("expected one DIR");
  namespace fs = std::filesystem;
  const fs::path dir(args.positional()[0]);
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw std::invalid_argument("'" + dir.string() + "' is not a folder");
  }
  std::vector<fs::path> files;
  fs::directory_iterator entries(dir, error);
  if (error) {
    throw std::invalid_argument("cannot list the folder '" + dir.string() +
                                "': " + error.message() + "; expected a readable folder of runs");
  }
  for (const auto& entry : entries) {
    if (entry.path().extension() == ".sqlite") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::printf("%-28s %6s %9s %8s  %-14s %-12s %-14s %-6s %s\n", "run", "steps", "loss", "accuracy",
              "model", "devices", "data", "BN", "created");
  for (const auto& file : files) {
    try {
      const store::RunReader run(file.string());
      auto meta = run.metadata();
      const auto steps = run.steps();
      // "cpu:2 x 2" for a run of 2 processes of 2 copies each.
      auto devices = meta["devices"];
      if (!meta["processes"].empty() && meta["processes"] != "1")
        devices += " x " + meta["processes"];
      std::printf("%-28s %6zu %9.4f %8.3f  %-14s %-12s %-14s %-6s %s\n",
                  file.filename().string().c_str(), steps.size(),
                  steps.empty() ? 0.0 : steps.back().loss,
                  steps.empty() ? 0.0 : steps.back().accuracy,
                  fs::path(meta["model"]).filename().string().c_str(), devices.c_str(),
                  meta["dataset"].c_str(), meta["synchronized"] == "true" ? "sync" : "unsync",
                  meta["created"].c_str());
    } catch (const store::StoreError& e) {
      std::printf("%-28s not a run: %s\n", file.filename().string().c_str(), e.what());
    }
  }
  if (files.empty()) std::printf("(no *.sqlite files in %s)\n", dir.string().c_str());
  return 0;
}

}  // namespace replicascope::cli
