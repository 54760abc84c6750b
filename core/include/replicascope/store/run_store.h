// The run database: one SQLite file per training run (WAL mode, versioned schema), written one
// step per transaction, so that a killed run keeps every step it finished. Per-channel
// statistics live in the file, not in memory.
#pragma once

#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "replicascope/records.h"
#include "replicascope/store/detail_policy.h"
#include "replicascope/store/run_model.h"

struct sqlite3;

namespace replicascope::store {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Version 2 keeps the model's module tree and wiring in tables (store/run_model.h); version 3
// records non-finite losses and statistics (steps.nonfinite; NaN is NULL in SQLite); version 4
// keeps every step's summaries and per-channel detail for the steps a DetailPolicy keeps, in
// float32 but for the synchronized statistics. Versions 1 to 3 still open.
constexpr int kSchemaVersion = 4;

using Metadata = std::map<std::string, std::string>;

// Whether a run's metadata says its layers used the synchronized statistics: every writer says
// "synchronized": "false" for per-copy BatchNorm, so a run that does not say is taken as
// synchronized. The one reading for the CLI, the GUI and version-1 module trees.
bool trained_synchronized(const Metadata& metadata);

// A 64-bit FNV-1a hash of a file's bytes, as 16 hex digits (for the run's metadata).
std::string file_hash(const std::string& path);

// One key's statistics at one sync point, summarized over channels: what draws every step of a
// run whose per-channel detail is kept for some steps only.
struct KeySummary {
  SeriesKey key;
  int64_t count = 0;         // values per channel behind the key's statistics (-1: unknown)
  double mean = 0, var = 0;  // the means over channels of the mean and of the variance
};
// Every key's summary of `layer`, in SeriesKey's order (keys without values left out).
std::vector<KeySummary> summarize(const engine::LayerStats& layer);

// Writes a new run. Refuses an existing file: runs are never overwritten, also when another
// process creates the same path at the same moment (the file is built under a temporary name
// and moved into place only if nothing is there). Steps with NaN or infinite values are recorded
// as they are, marked (StepRow::nonfinite).
class RunWriter {
 public:
  // `detail` chooses which steps keep per-channel detail (every step keeps its summaries).
  RunWriter(const std::string& path, const Metadata& metadata, const RunModel& model = {},
            const DetailOptions& detail = {});
  ~RunWriter();
  RunWriter(const RunWriter&) = delete;
  RunWriter& operator=(const RunWriter&) = delete;
  void append(const engine::StepRecord& record);
  const std::string& path() const { return path_; }

 private:
  struct Statements;
  int64_t layer_id(const std::string& name);
  // The policy, made at the first step (kAuto's step count depends on the step's size).
  DetailPolicy& policy(const engine::StepRecord& first);
  void write_detail(const engine::StepRecord& record, int64_t layer, const engine::LayerStats& s);
  std::string path_;
  DetailOptions detail_;
  std::optional<DetailPolicy> policy_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> statements_;
  std::map<std::string, int64_t> layer_ids_;
};

struct StepRow {
  int64_t step = 0, epoch = 0;
  double loss = 0, accuracy = 0, seconds = 0;
  std::string nonfinite;  // what was not finite in the step (engine::nonfinite_part); empty: all
  bool detail = true;     // the step keeps its per-channel values (always before version 4)
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

// Opens a run read-only (a finished one, or one still being written), also on read-only media.
class RunReader {
 public:
  explicit RunReader(const std::string& path);
  ~RunReader();
  RunReader(const RunReader&) = delete;
  RunReader& operator=(const RunReader&) = delete;

  Metadata metadata() const;
  int schema_version() const { return version_; }
  // The model's module tree and wiring: from its tables (version 2), or rebuilt from the wiring
  // text a version-1 run kept (modules_from_wiring). Throws StoreError for a malformed one.
  RunModel model() const;
  std::vector<StepRow> steps() const;
  std::vector<std::string> layers() const;
  // Throws StoreError naming the run's layers if `layer` is not one of them.
  void require_layer(const std::string& layer) const;
  // Every value that matches, ordered by step, layer, sync point, key (SeriesKey's order),
  // channel. Throws StoreError for a copy id the file cannot have.
  void for_each_stat(const StatFilter& filter, const std::function<void(const StatRow&)>& fn) const;
  // Divergence per step (the largest over the layer's sync points) of one layer.
  std::vector<std::pair<int64_t, double>> divergence(const std::string& layer) const;
  // Every layer's divergence, by step, in one pass over the file (what a heatmap draws).
  std::map<std::string, std::vector<DivergencePoint>> divergence_by_layer() const;
  // One layer's summaries at every step (computed from the per-channel values before version
  // 4), ordered by step, sync point and key.
  void for_each_summary(const std::string& layer,
                        const std::function<void(const SummaryRow&)>& fn) const;
  // The steps that keep per-channel detail, ascending.
  std::vector<int64_t> detail_steps() const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  int version_ = 0;
};

}  // namespace replicascope::store
