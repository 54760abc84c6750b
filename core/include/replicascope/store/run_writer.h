// SPDX-License-Identifier: MIT
// The run database: one SQLite file per training run (WAL mode, versioned schema), written one
// step per transaction, so that a killed run keeps every step it finished. Per-channel
// statistics live in the file, not in memory.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "replicascope/base/records.h"
#include "replicascope/store/detail_policy.h"
#include "replicascope/store/run_model.h"
#include "replicascope/store/run_rows.h"

struct sqlite3;

namespace replicascope::store {

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
  void append(const replicascope::StepRecord& record);
  // Something that happened to the run beside its steps (version 6): a step that failed at a
  // sync point, a stop. Committed at once.
  void add_event(const RunEvent& event);
  const std::string& path() const { return path_; }
  // The steps the file holds (committed).
  int64_t steps_held() const;
  // Folds the write-ahead log into the file, empties it and closes the file, so that the .sqlite
  // file alone holds every step (users copy and move that file, not its -wal). The destructor
  // does the same, quietly; this throws StoreError when it cannot. append() refuses after it.
  void close();

 private:
  struct Statements;
  // The layer's id; a new layer's row (and its settings, where known) is inserted.
  int64_t layer_id(const std::string& name,
                   const std::optional<replicascope::BatchNormSettings>& settings = std::nullopt);
  // The policy, made at the first step (kAuto's step count depends on the step's size).
  DetailPolicy& policy(const replicascope::StepRecord& first);
  void write_detail(const replicascope::StepRecord& record, int64_t layer,
                    const replicascope::LayerStats& s);
  // The first non-finite step keeps its detail, and the step before it too (written now if
  // its detail was not kept); both are pinned in the policy.
  void pin_first_nonfinite(DetailPolicy& chooser, int64_t step);
  void remember_before_nonfinite(const replicascope::StepRecord& r, bool kept, bool nonfinite);
  std::string path_;
  DetailOptions detail_;
  std::optional<DetailPolicy> policy_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> statements_;
  std::map<std::string, int64_t> layer_ids_;
  struct BeforeNonfinite {
    bool seen = false;  // a step was not finite: nothing more to remember
    int64_t step = 0;   // the last step appended (0: none yet)
    std::optional<replicascope::StepRecord> record;  // its channels, when it did not keep them
  } before_nonfinite_;
};

}  // namespace replicascope::store
