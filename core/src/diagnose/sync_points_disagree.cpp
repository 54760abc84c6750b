// SPDX-License-Identifier: MIT
// sync-points-disagree: a step that failed because its copies did not meet at a synchronized
// layer (one called it more often than another, one left the step early, one never came): what
// hangs a DDP training with SyncBatchNorm, which the C++ engine fails and records as an event.
#include <algorithm>
#include <utility>

#include "rules.h"

namespace replicascope::diagnose::rules {
namespace {

class SyncPointsDisagree : public Rule {
 public:
  const char* kind() const override { return "sync-points-disagree"; }
  // The steps seen, as runs of consecutive steps: a handful (a failed step has none), however
  // long the run.
  void observe(const StepEvidence& step) override {
    if (!completed_.empty() && step.step == completed_.back().second + 1) {
      completed_.back().second = step.step;
    } else {
      completed_.push_back({step.step, step.step});
    }
  }

  void observe_event(const store::RunEvent& event) override {
    if (event.kind != kind()) return;
    Finding f;
    f.kind = kind();
    // A step that then completed stalled and went on (the Python recorder's hang explainer
    // spoke while a slow rank caught up): a warning. One that never completed is an error.
    const bool went_on = std::any_of(completed_.begin(), completed_.end(), [&](const auto& r) {
      return r.first <= event.step && event.step <= r.second;
    });
    f.severity = went_on ? Severity::kWarning : Severity::kError;
    f.layer = event.layer;
    f.sync_point = event.sync_point.value_or(0);
    if (event.series) f.series = {*event.series};
    f.first_step = f.last_step = event.step;
    f.evidence = "the copies or ranks did not meet: " + event.message +
                 (went_on ? "; the step then completed" : "") +
                 "; the rule: every copy and rank calls each synchronized layer as often, in "
                 "the same order, in a step";
    f.why =
        "synchronized BatchNorm waits until every copy reaches the layer: a copy that skips "
        "it or calls it more often hangs the others (with several processes, until the "
        "collective's timeout)";
    f.what_to_do =
        "make every copy and rank run the same layers in a step: no branch on the "
        "data around a BatchNorm, validation on every rank (or on a model without "
        "synchronized layers), the same number of batches per rank (drop_last)";
    findings_.push_back(std::move(f));
  }

  std::vector<Finding> findings() const override { return findings_; }

 private:
  std::vector<Finding> findings_;
  std::vector<std::pair<int64_t, int64_t>> completed_;  // [first, last] step of each run
};

}  // namespace

std::unique_ptr<Rule> make_sync_points_disagree() {
  return std::make_unique<SyncPointsDisagree>();
}

}  // namespace replicascope::diagnose::rules
