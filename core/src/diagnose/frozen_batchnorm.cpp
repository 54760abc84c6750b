// SPDX-License-Identifier: MIT
// frozen-batchnorm: a BatchNorm module that ran in eval mode (on its running statistics) in
// training steps where it did not train: intended when fine-tuning, a bug otherwise.
#include <map>

#include "rules.h"

namespace replicascope::diagnose::rules {
namespace {

struct Frozen {
  int64_t first_step = 0, last_step = 0, steps = 0, calls = 0;
};

class FrozenBatchNorm : public Rule {
 public:
  const char* kind() const override { return "frozen-batchnorm"; }

  void observe(const StepEvidence& step) override {
    if (step.layers.empty()) return;  // no layer trained: not a training step
    for (const auto& eval : step.eval_calls) {
      if (eval.calls <= 0 || trained(step, eval.module)) continue;
      auto& frozen = frozen_[eval.module];
      if (!frozen.steps) frozen.first_step = step.step;
      frozen.last_step = step.step;
      ++frozen.steps;
      frozen.calls += eval.calls;
    }
    ++training_steps_;
  }

  std::vector<Finding> findings() const override {
    std::vector<Finding> out;
    for (const auto& [module, frozen] : frozen_) {
      Finding f;
      f.kind = kind();
      f.severity = Severity::kNote;
      f.layer = module;
      f.first_step = frozen.first_step;
      f.last_step = frozen.last_step;
      f.evidence = "'" + module + "' ran in eval mode (on its running statistics, which it did " +
                   "not update) in " + std::to_string(frozen.steps) + " of " +
                   std::to_string(training_steps_) + " training steps, " +
                   std::to_string(frozen.calls) +
                   " call(s), while other BatchNorm layers trained; the rule: any such call";
      f.why =
          "a frozen BatchNorm normalizes with fixed statistics and is not synchronized: "
          "intended when fine-tuning, a bug when a model.eval() or a freeze reached a layer "
          "that should train";
      f.what_to_do =
          "if it should train, call .train() on it after the code that froze it (a "
          "model.train() after validation, a freeze of the backbone); if intended, "
          "nothing";
      out.push_back(std::move(f));
    }
    return out;
  }

 private:
  static bool trained(const StepEvidence& step, const std::string& module) {
    for (const auto& layer : step.layers) {
      if (layer.layer == module) return true;
    }
    return false;
  }

  std::map<std::string, Frozen> frozen_;
  int64_t training_steps_ = 0;
};

}  // namespace

std::unique_ptr<Rule> make_frozen_batchnorm() {
  return std::make_unique<FrozenBatchNorm>();
}

}  // namespace replicascope::diagnose::rules
