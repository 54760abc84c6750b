// SPDX-License-Identifier: MIT
// A rule: one kind of finding, fed a run's steps in order. One file per rule (core/src/diagnose/),
// behind this one small interface; make_rules gives every rule of this version.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "replicascope/diagnose/finding.h"
#include "replicascope/diagnose/step_evidence.h"

namespace replicascope::diagnose {

// What a rule knows of the run beyond its steps: from the run's metadata (store::Metadata) or the
// live session's options.
struct RunFacts {
  bool synchronized = true;
  int copies = 1, processes = 1;  // copies per process (rank 0's)
  int64_t batch = 0;              // samples per step over every copy and rank (0: unknown)
  std::string source;             // the run's path or "live session"
};

class Rule {
 public:
  virtual ~Rule() = default;
  virtual const char* kind() const = 0;
  // Called for steps 1, 2, ... in order; a rule keeps bounded memory (a window of steps at most).
  virtual void observe(const StepEvidence& step) = 0;
  // The end of the run (or of what is recorded so far).
  virtual void finish() {}
  // What it has found so far; a finding may grow (last_step, evidence, severity).
  virtual std::vector<Finding> findings() const = 0;
};

std::vector<std::unique_ptr<Rule>> make_rules(const RunFacts& facts);

}  // namespace replicascope::diagnose
