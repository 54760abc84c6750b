// SPDX-License-Identifier: MIT
// What a run file holds, shared by its writer (run_writer.h) and its reader (run_reader.h): the
// schema version, the metadata, and the rows a reader gives back.
#pragma once

#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

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
// open. Version 6 adds what the findings need beyond the statistics: each layer's momentum and
// eps (layer_settings), BatchNorm calls in eval mode during training (eval_calls) and the run's
// events; versions 1 to 5 still open, without them.
constexpr int kSchemaVersion = 6;

// SQLite's application_id of a run file (PRAGMA application_id, the big-endian 32-bit field at
// offset 68 of the file's header): "RSRN" in ASCII. Both writers set it, so `file`, the desktop's
// MIME database and the readers can tell a run from any other SQLite database; readers do not
// require it (runs written before it have 0 there).
constexpr int32_t kRunApplicationId = 0x5253524E;

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

// One layer's divergence at one step: the largest over its sync points (or one sync point's),
// the channel where it was (-1 before version 4), and the sync point it was at.
struct DivergencePoint {
  int64_t step = 0;
  double value = 0;
  int64_t worst_channel = -1;
  int64_t sync_point = 0;
};

// One sync point of one step: its count, divergence and every key's summary (what diagnose reads,
// a step at a time).
struct SyncPointRow {
  int64_t step = 0;
  std::string layer;
  int64_t sync_point = 0;
  int64_t count = 0;  // values per channel over all copies
  double divergence = 0;
  int64_t worst_channel = -1;         // -1 before version 4
  std::vector<KeySummary> summaries;  // in SeriesKey's order
};

// Something that happened to the run beside its steps (version 6's events table).
struct RunEvent {
  int64_t step = 0;                   // the step it happened in
  std::string kind;                   // "sync-points-disagree", "stopped"
  std::string layer;                  // "" where not a layer's
  std::optional<int64_t> sync_point;  // the layer's call in the step
  std::optional<SeriesKey> series;    // the copy or rank it names (stored as channel_stats' copy)
  std::string message;                // what a person is told
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
