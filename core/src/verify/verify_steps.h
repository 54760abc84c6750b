// SPDX-License-Identifier: MIT
// verify's runs side by side: the models it trains beside the reference (Run, Models), one
// training step of all of them (run_step) and the eval pass after training (eval_pass), each
// compared with the reference, and the twin's moves by one rounding (nudge_parameters).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "replicascope/dist/gradient_reducer.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/verify/verify.h"
#include "verify_tracker.h"

namespace replicascope::detail {

// What verify compares, one tracker per quantity.
struct Trackers {
  explicit Trackers(const VerifyTolerances& t)
      : outputs("outputs", t.outputs, Pass::kForward),
        input_grads("input grads", t.grads, Pass::kBackward),
        param_grads("parameter grads", t.grads, Pass::kBackward),
        running("running stats", t.running_stats, Pass::kForward),
        tracked("num_batches_tracked", 0.0, Pass::kForward),
        eval_outputs("eval outputs", t.outputs, Pass::kAfterTraining) {}
  Tracker outputs, input_grads, param_grads, running, tracked, eval_outputs;
  std::vector<Tracker*> all() {
    return {&outputs, &input_grads, &param_grads, &running, &tracked, &eval_outputs};
  }
};

// A model that trains beside the reference, with its differences from it.
struct Run {
  Run(std::unique_ptr<ScriptedModel> m, const VerifyTolerances& tolerances)
      : model(std::move(m)), trackers(tolerances) {}
  std::unique_ptr<ScriptedModel> model;
  std::unique_ptr<ModelReplicas> replicas;         // a data-parallel run's copies
  std::unique_ptr<dist::GradientReducer> reducer;  // with several processes
  Trackers trackers;
};

// What the check's models were loaded as and switched to.
struct Models {
  std::unique_ptr<ScriptedModel> reference;
  std::unique_ptr<Run> twin, checked, control;
  std::shared_ptr<ConditionObserver> condition;
  std::vector<std::string> switched_off;  // for the report
};

// Moves every parameter of `model` by up to one rounding, at random: the twin's weights, each
// parameter seeded in turn from `seed` on.
void nudge_parameters(ScriptedModel& model, uint64_t seed);

// With several processes every rank must learn that one failed before the next collective (the
// backward's, or the control's): `failure` on this rank, else another rank's, else "".
std::string agree_on_failure(const std::string& failure, dist::ProcessGroup* group);

// Training step `index` (0-based) of the reference, its twin, the checked run and (in the first
// step) the control, each compared with the reference; adds the step's split to report.splits.
// False when per-copy BatchNorm failed on some rank (report.per_copy_error says where): the
// training stops there.
bool run_step(Models& m, const VerifyOptions& options, int index, VerifyReport& report);

// One forward in eval mode after training, of the reference, its twin and the checked run (over
// `processes` processes): the eval outputs compared with the reference's.
void eval_pass(Models& m, const VerifyOptions& options, int processes);

}  // namespace replicascope::detail
