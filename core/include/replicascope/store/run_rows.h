// What a run file holds, shared by its writer (run_writer.h) and its reader (run_reader.h): the
// schema version, the metadata, and the rows a reader gives back.
#pragma once

#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "replicascope/base/records.h"

namespace replicascope::store {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Version 2 keeps the model's module tree and wiring in tables (store/run_model.h); version 3
// records non-finite losses and statistics (steps.nonfinite; NaN is NULL in SQLite); version 4
// keeps every step's summaries and per-channel detail for the steps a DetailPolicy keeps, in
// float32 but for the synchronized statistics; version 5 keeps text as valid UTF-8, reserves the
// writers' metadata keys, and every version's tables are checked on open. Versions 1 to 4 still
// open.
constexpr int kSchemaVersion = 5;

using Metadata = std::map<std::string, std::string>;

// Whether a run's metadata says its layers used the synchronized statistics: every writer says
// "synchronized": "false" for per-copy BatchNorm, so a run that does not say is taken as
// synchronized. The one reading for the CLI, the GUI and version-1 module trees.
bool trained_synchronized(const Metadata& metadata);

// A 64-bit FNV-1a hash of a file's bytes, as 16 hex digits (for the run's metadata).
std::string file_hash(const std::string& path);

struct StepRow {
  int64_t step = 0, epoch = 0;
  double loss = 0, accuracy = 0, seconds = 0;
  std::string
      nonfinite;       // what was not finite in the step (replicascope::nonfinite_part); empty: all
  bool detail = true;  // the step keeps its per-channel values (always before version 4)
};

// One key's summary at one sync point of one step.
struct SummaryRow {
  int64_t step = 0, sync_point = 0;
  KeySummary summary;
};

// One layer's divergence at one step: the largest over its sync points, and the channel where
// the largest was (-1 before version 4).
struct DivergencePoint {
  int64_t step = 0;
  double value = 0;
  int64_t worst_channel = -1;
};

// One value in tidy form.
struct StatRow {
  int64_t step = 0;
  std::string layer;
  int64_t sync_point = 0;
  SeriesKey key;
  int64_t channel = 0;
  Statistic statistic = Statistic::kMean;
  double value = 0;
};

struct StatFilter {
  std::string layer;  // empty: every layer
  int64_t first_channel = 0, last_channel = INT64_MAX;
  int64_t first_step = 0, last_step = INT64_MAX;
  std::optional<Statistic> statistic;  // empty: mean and var
};

}  // namespace replicascope::store
