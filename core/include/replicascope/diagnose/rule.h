// SPDX-License-Identifier: MIT
// A rule: one kind of finding, fed a run's steps in order. One file per rule (core/src/diagnose/),
// behind this one small interface; make_rules gives every rule of this version.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "replicascope/diagnose/finding.h"
#include "replicascope/diagnose/step_evidence.h"
#include "replicascope/store/run_rows.h"

namespace replicascope::diagnose {

// What a rule knows of the run beyond its steps: from the run's metadata (store::Metadata) or the
// live session's options.
struct RunFacts {
  bool synchronized = true;
  int copies = 1, processes = 1;  // copies per process (rank 0's)
  int64_t batch = 0;              // samples per step over every copy and rank (0: unknown)
  std::string source;             // the run's path or "live session"
  // The run records each layer's momentum and eps, and BatchNorm calls in eval mode during
  // training (a live C++ session; a run of schema version 6 on).
  bool records_run_facts = true;
  // The run records failed steps' sync-point events (the C++ engine, version 6 on).
  bool records_sync_events = true;
  // Every rank's running statistics are recorded (the Python recorder, version 6 on), or there
  // is one process and nothing to differ.
  bool records_rank_running = true;
  int schema_version = 0;  // the run's (0: a live session)
};

class Rule {
 public:
  virtual ~Rule() = default;
  virtual const char* kind() const = 0;
  // Called for steps 1, 2, ... in order; a rule keeps bounded memory (a window of steps at most).
  virtual void observe(const StepEvidence& step) = 0;
  // Something that happened beside the steps (a failed step's event), in the order it did.
  virtual void observe_event(const store::RunEvent& /*event*/) {}
  // The end of the run (or of what is recorded so far).
  virtual void finish() {}
  // What it has found so far; a finding may grow (last_step, evidence, severity).
  virtual std::vector<Finding> findings() const = 0;
};

std::vector<std::unique_ptr<Rule>> make_rules(const RunFacts& facts);

}  // namespace replicascope::diagnose
