// SPDX-License-Identifier: MIT
// Reads a run file (run_writer.h writes it): its metadata, model, steps and statistics.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "replicascope/store/run_model.h"
#include "replicascope/store/run_rows.h"

struct sqlite3;

namespace replicascope::store {

namespace detail {
class Statement;
}

// Opens a run read-only (a finished one, or one still being written), also on read-only media.
class RunReader {
 public:
  explicit RunReader(const std::string& path);
  ~RunReader();
  RunReader(const RunReader&) = delete;
  RunReader& operator=(const RunReader&) = delete;

  const std::string& path() const { return path_; }
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
  // Every layer's divergence, by step, in one pass over the file (what a heatmap draws): a
  // point per step, the largest over the layer's sync points; with `each_call`, a point per
  // sync point (a layer called twice in a step has two), ordered by step and sync point.
  std::map<std::string, std::vector<DivergencePoint>> divergence_by_layer(
      bool each_call = false) const;
  // One layer's summaries at every step (computed from the per-channel values before version
  // 4), ordered by step, sync point and key.
  void for_each_summary(const std::string& layer,
                        const std::function<void(const SummaryRow&)>& fn) const;
  // Every step's sync points with their summaries, ordered by step, layer (the order first
  // recorded) and sync point: one pass over the file, a sync point at a time, whatever its length
  // (summaries computed from the per-channel values before version 4). run_reader_steps.cpp.
  void for_each_sync_point(const std::function<void(const SyncPointRow&)>& fn) const;
  // The steps that keep per-channel detail, ascending.
  std::vector<int64_t> detail_steps() const;

  // Version 6 (run_reader_facts.cpp); empty for older runs, which did not record them.
  // Whether the run records layer settings, eval-mode calls and events (version 6 on).
  bool records_run_facts() const { return version_ >= 6; }
  // Each recorded layer's momentum and eps, by layer name.
  std::map<std::string, BatchNormSettings> layer_settings() const;
  // The BatchNorm modules that ran in eval mode during each training step, by step.
  std::map<int64_t, std::vector<EvalCalls>> eval_calls() const;
  // The run's events in the order written.
  std::vector<RunEvent> events() const;
  // Whether the run keeps every step's deviations (version 6 files written after they came).
  bool records_deviations() const { return has_deviations_; }
  // The deviations of `step`: per layer (in the order written), its copies' or ranks'; empty
  // where the run has none. A forward cursor over the rows, which come in the steps' order:
  // steps asked for in ascending order cost one pass; an earlier step starts a new one.
  std::vector<std::pair<std::string, std::vector<SeriesDeviation>>> deviations_at(
      int64_t step) const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  int version_ = 0;
  bool has_deviations_ = false;
  mutable std::unique_ptr<detail::Statement> deviations_;
  mutable bool deviation_pending_ = false, deviations_done_ = false;  // the cursor's state
  mutable int64_t deviations_asked_ = INT64_MIN;
};

}  // namespace replicascope::store
