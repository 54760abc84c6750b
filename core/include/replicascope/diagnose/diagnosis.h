// SPDX-License-Identifier: MIT
// The rules of a run together: a live session feeds them step by step (the engine does, on its
// thread), a recorded run is read through them (diagnose_run).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "replicascope/diagnose/rule.h"

namespace replicascope::store {
class RunReader;
}  // namespace replicascope::store

namespace replicascope::diagnose {

class Diagnosis {
 public:
  explicit Diagnosis(const RunFacts& facts);
  ~Diagnosis();
  Diagnosis(const Diagnosis&) = delete;
  Diagnosis& operator=(const Diagnosis&) = delete;

  const RunFacts& facts() const { return facts_; }
  void observe(const StepEvidence& step);
  void observe_event(const store::RunEvent& event);
  void finish();
  // Every finding so far: errors first, then warnings, then notes; each by first step.
  std::vector<Finding> findings() const;
  // The findings no earlier call returned, in findings()' order: one is new once per kind,
  // layer, sync point, series and severity (a note that grows into a warning is new again).
  std::vector<Finding> new_findings();

 private:
  using Key = std::tuple<std::string, std::string, int64_t, std::vector<SeriesKey>, Severity>;
  RunFacts facts_;
  std::vector<std::unique_ptr<Rule>> rules_;
  std::set<Key> reported_;
};

// Reads `run` step by step (its metadata gives the RunFacts) through every rule and returns
// the findings, sorted as Diagnosis::findings(). Throws store::StoreError for a damaged run.
std::vector<Finding> diagnose_run(const store::RunReader& run);
// What a recorded run's metadata and schema version tell the rules.
RunFacts run_facts(const store::RunReader& run);

// rank-buffers-differ and sync-points-disagree (no writer records what they need yet), and for a
// run before schema version 6 running-stats-lag and frozen-batchnorm: "not recorded in this run".
std::vector<NotChecked> not_checked(const RunFacts& facts);

}  // namespace replicascope::diagnose
