// SPDX-License-Identifier: MIT
// sync-points-disagree: a step that failed because its copies did not meet at a synchronized
// layer (one called it more often than another, one left the step early, one never came): what
// hangs a DDP training with SyncBatchNorm, which the C++ engine fails and records as an event.
#include "rules.h"

namespace replicascope::diagnose::rules {
namespace {

class SyncPointsDisagree : public Rule {
 public:
  const char* kind() const override { return "sync-points-disagree"; }
  void observe(const StepEvidence&) override {}

  void observe_event(const store::RunEvent& event) override {
    if (event.kind != kind()) return;
    Finding f;
    f.kind = kind();
    f.severity = Severity::kError;
    f.layer = event.layer;
    f.sync_point = event.sync_point.value_or(0);
    if (event.copy) f.series = {SeriesKey::copy(*event.copy)};
    f.first_step = f.last_step = event.step;
    f.evidence = "the copies or ranks did not meet: " + event.message +
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
};

}  // namespace

std::unique_ptr<Rule> make_sync_points_disagree() {
  return std::make_unique<SyncPointsDisagree>();
}

}  // namespace replicascope::diagnose::rules
