// SPDX-License-Identifier: MIT
// loss-explodes: a loss far above its start that keeps rising, before any NaN.
#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>

#include "rules.h"

namespace replicascope::diagnose::rules {
namespace {

constexpr size_t kStepsPerMean = 5;  // steps per mean (the start's median, the recent means)
constexpr int64_t kFirstStep = 10;   // the first step judged: two recent windows of 5
constexpr double kFactor = 3;        // the effect size: 3x the start

class LossExplodes : public Rule {
 public:
  const char* kind() const override { return "loss-explodes"; }

  void observe(const StepEvidence& step) override {
    if (std::isfinite(step.loss) && start_.size() < kStepsPerMean) {
      if (start_.empty()) start_first_ = step.step;
      start_last_ = step.step;
      start_.push_back(step.loss);
    }
    recent_.push_back(step.loss);
    recent_steps_.push_back(step.step);
    if (recent_.size() > 2 * kStepsPerMean) recent_.pop_front(), recent_steps_.pop_front();
    if (step.step < kFirstStep || start_.size() < kStepsPerMean ||
        recent_.size() < 2 * kStepsPerMean)
      return;
    // The first loss is the untrained model's; a loss that jumps in the very first steps (a
    // learning rate far too large) would otherwise lift the median it is measured against.
    const double start = std::min(start_.front(), median(start_));
    if (!(start > 0)) return;       // a loss that starts at 0 or below has no scale to grow by
    double before = 0, latest = 0;  // NaN stays NaN: nonfinite's finding, not this one's
    for (size_t i = 0; i < kStepsPerMean; ++i) {
      before += recent_[i] / kStepsPerMean;
      latest += recent_[kStepsPerMean + i] / kStepsPerMean;
    }
    if (!(latest >= kFactor * start)) return;
    if (!finding_ && !(latest > before)) return;  // far above, but no longer rising
    if (!finding_) {
      finding_ = Finding{};
      finding_->kind = kind();
      finding_->severity = Severity::kWarning;
      finding_->first_step = step.step;
      finding_->why =
          "a loss that keeps growing far above its start is diverging: each step makes the "
          "model worse, and a NaN often follows";
      finding_->what_to_do =
          "lower the learning rate (10x to start with), or add warm-up or gradient clipping; "
          "check the data and labels of the steps where it rose";
    }
    finding_->last_step = step.step;
    if (latest > peak_) {  // the figures of the highest window so far
      peak_ = latest;
      finding_->evidence =
          "the loss rose from " + figure(start) + " (the first loss, or the median of " +
          step_range(start_first_, start_last_) + " where lower) to " + figure(latest) +
          " (mean of " + step_range(recent_steps_[kStepsPerMean], step.step) + "), " +
          figure(latest / start) +
          "x; the rule: a mean of 5 steps at 3x the start or more, and "
          "above the 5 steps before";
    }
  }

  std::vector<Finding> findings() const override {
    return finding_ ? std::vector<Finding>{*finding_} : std::vector<Finding>{};
  }

 private:
  static double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];  // odd: 5 values
  }

  std::vector<double> start_;  // the first 5 finite losses
  int64_t start_first_ = 0, start_last_ = 0;
  std::deque<double> recent_;  // the last 10 losses, and their steps
  std::deque<int64_t> recent_steps_;
  double peak_ = 0;
  std::optional<Finding> finding_;
};

}  // namespace

std::unique_ptr<Rule> make_loss_explodes() {
  return std::make_unique<LossExplodes>();
}

}  // namespace replicascope::diagnose::rules
