// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope-cli runs: the recorded runs in a folder.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "replicascope/store/run_reader.h"

namespace replicascope::cli {

const char* const kRunsUsage =
    "usage: replicascope-cli runs DIR\n\n"
    "Lists the run files (*.sqlite) in DIR: steps recorded, how many of them keep every\n"
    "channel's statistics (detail), the file's size (with its -wal), last loss and accuracy,\n"
    "model, devices, data, BatchNorm mode and when the run started. Files that are not runs are\n"
    "listed with the reason.\n";

namespace {

// "840 kB", "12.3 MB": the run and its WAL file together (a run being written has both).
std::string size_text(const std::filesystem::path& file) {
  std::error_code error;
  double bytes = 0;
  for (const char* suffix : {"", "-wal"}) {
    const auto size = std::filesystem::file_size(file.string() + suffix, error);
    if (!error) bytes += static_cast<double>(size);
  }
  char text[32];
  if (bytes < 1e6) {
    std::snprintf(text, sizeof(text), "%.0f kB", bytes / 1e3);
  } else {
    std::snprintf(text, sizeof(text), "%.1f MB", bytes / 1e6);
  }
  return text;
}

}  // namespace

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
  std::printf("%-28s %6s %6s %9s %9s %8s  %-14s %-12s %-14s %-6s %s\n", "run", "steps", "detail",
              "size", "loss", "accuracy", "model", "devices", "data", "BN", "created");
  for (const auto& file : files) {
    try {
      const store::RunReader run(file.string());
      auto meta = run.metadata();
      const auto steps = run.steps();
      // "cpu:2 x 2" for a run of 2 processes of 2 copies each.
      auto devices = meta["devices"];
      if (!meta["processes"].empty() && meta["processes"] != "1")
        devices += " x " + meta["processes"];
      size_t detail = 0;
      for (const auto& step : steps) detail += step.detail;
      // A run with no step has no loss: "-", not a 0.0000 that reads as a perfect fit.
      char loss[32] = "-", accuracy[32] = "-";
      if (!steps.empty()) {
        std::snprintf(loss, sizeof(loss), "%.4f", steps.back().loss);
        std::snprintf(accuracy, sizeof(accuracy), "%.3f", steps.back().accuracy);
      }
      std::printf("%-28s %6zu %6zu %9s %9s %8s  %-14s %-12s %-14s %-6s %s\n",
                  file.filename().string().c_str(), steps.size(), detail, size_text(file).c_str(),
                  loss, accuracy, fs::path(meta["model"]).filename().string().c_str(),
                  devices.c_str(), meta["dataset"].c_str(),
                  store::trained_synchronized(meta) ? "sync" : "unsync", meta["created"].c_str());
    } catch (const store::StoreError& e) {
      std::printf("%-28s not a run: %s\n", file.filename().string().c_str(), e.what());
    }
  }
  if (files.empty()) std::printf("(no *.sqlite files in %s)\n", dir.string().c_str());
  return 0;
}

}  // namespace replicascope::cli
