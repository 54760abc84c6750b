// SPDX-License-Identifier: MIT
#include "replicascope/verify/verify.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "../model/sync_layers.h"
#include "replicascope/base/memory_limits.h"
#include "replicascope/base/records.h"
#include "replicascope/base/stop_signals.h"
#include "replicascope/base/usage.h"
#include "replicascope/dist/gradient_reducer.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/parallel/data_parallel.h"
#include "replicascope/torchscript/module_file.h"
#include "replicascope/verify/randomness.h"
#include "verify_steps.h"
#include "verify_tracker.h"

namespace replicascope {
namespace {

void check_options(const VerifyOptions& options) {
  if (options.devices.empty()) throw std::invalid_argument("verify: expected at least one device");
  if (options.input_shape.size() < 2) {
    throw std::invalid_argument("verify: expected an input shape B,C,... with at least 2 sizes");
  }
  for (auto size : options.input_shape) {
    if (size <= 0) throw std::invalid_argument("verify: expected positive input sizes");
  }
  if (options.steps < 1) throw std::invalid_argument("verify: expected at least 1 step");
  require_sample_per_copy("verify", options.input_shape.front(), options.devices.size(),
                          options.group ? options.group->size() : 1);
  // The input alone, before any model runs: a shape past memory is said with its arithmetic.
  double bytes = static_cast<double>(c10::elementSize(options.dtype));
  for (auto size : options.input_shape) bytes *= static_cast<double>(size);
  const auto bound = memory_this_process_can_have();
  if (bound.known() && bytes > bound.bytes) {
    throw std::invalid_argument("verify: an input of " + join_sizes(options.input_shape, "x") +
                                " in " + (options.dtype == torch::kDouble ? "float64" : "float32") +
                                " takes " + bytes_text(bytes) +
                                " alone, but the process can have " + bytes_text(bound.bytes) +
                                " (" + bound.source + "); expected a smaller --input-shape");
  }
}

}  // namespace

VerifyTolerances verify_tolerances(torch::ScalarType dtype) {
  if (dtype == torch::kDouble) return {1e-6, 1e-6, 1e-6};
  if (dtype == torch::kFloat) return {1e-4, 1e-3, 1e-4};
  throw std::invalid_argument("verify: expected float32 or float64, got " +
                              std::string(c10::toString(dtype)));
}

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kEqual:
      return "equal";
    case Verdict::kDiffers:
      return "differs";
    case Verdict::kInconclusive:
      return "inconclusive";
  }
  return "?";
}

namespace {

using detail::Models;
using detail::Run;

// A model of the check, made from the loaded module: in training mode but for the modules that
// draw random numbers, in options.dtype; unconverted ones on the first device.
std::unique_ptr<ScriptedModel> prepare(const torch::jit::Module& loaded, const std::string& path,
                                       ScriptedModelOptions model_options,
                                       const VerifyOptions& options,
                                       const std::vector<std::string>& switch_off) {
  auto model = std::make_unique<ScriptedModel>(loaded, path, model_options);
  if (!model_options.convert() && !options.devices.front().is_cpu()) {
    model->module().to(options.devices.front());
  }
  model->train(true);
  script::switch_off_training(model->module(), switch_off);
  model->module().to(options.dtype);
  if (model_options.convert()) model->set_process_group(options.group);
  return model;
}

// Copies, and the reducer that sums the gradients over the processes when there are several.
void make_data_parallel(Run& run, const VerifyOptions& options) {
  run.replicas = run.model->replicate(options.devices);
  if (!options.group) return;
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : run.model->named_parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  run.reducer = std::make_unique<dist::GradientReducer>(params, options.group);
}

Models load_models(const std::string& path, const VerifyOptions& options,
                   const VerifyTolerances& tolerances) {
  const auto loaded = script::load_module(path);
  Models m;
  const auto draws = script::find_random_draws(loaded);
  const auto switch_off = script::modules_to_switch_off(draws);
  for (const auto& draw : draws) {
    m.switched_off.push_back((draw.module.empty() ? "(the model)" : draw.module) + " (" +
                             draw.operation + ")");
  }
  // Every tensor of the result is compared (every_output); options.output is checked.
  const auto all = ScriptedModelOptions().every_output(true).output(options.output);
  const auto plain = ScriptedModelOptions(all).convert(false);
  m.reference = prepare(loaded, path, plain, options, switch_off);
  m.twin = std::make_unique<Run>(prepare(loaded, path, plain, options, switch_off), tolerances);
  detail::nudge_parameters(*m.twin->model, options.seed * 1000 + 700);
  const auto checked = ScriptedModelOptions(all).synchronize(!options.per_copy);
  m.checked =
      std::make_unique<Run>(prepare(loaded, path, checked, options, switch_off), tolerances);
  std::map<std::string, double> eps;
  for (const auto& layer : m.checked->model->sync_layers()) eps[layer->name()] = layer->info().eps;
  m.condition = std::make_shared<detail::ConditionObserver>(eps);
  m.checked->model->set_stats_observer(m.condition);
  make_data_parallel(*m.checked, options);
  if (!options.per_copy) {
    const auto per_copy = ScriptedModelOptions(all).synchronize(false);
    m.control =
        std::make_unique<Run>(prepare(loaded, path, per_copy, options, switch_off), tolerances);
    m.control->replicas = m.control->model->replicate(options.devices);
  }
  return m;
}

// The report's account of what is checked, before any step.
VerifyReport new_report(const std::string& model_path, const VerifyOptions& options,
                        const std::vector<std::string>& switched_off) {
  VerifyReport report;
  report.model = model_path;
  report.dtype = options.dtype == torch::kDouble ? "float64" : "float32";
  report.processes = options.group ? options.group->size() : 1;
  report.per_copy = options.per_copy;
  report.switched_off = switched_off;
  return report;
}

// Every quantity of the checked run beside the same of the twin (its noise floor), with their
// largest differences over every rank.
std::vector<detail::Quantity> merge_over_ranks(Models& m, const VerifyOptions& options) {
  const auto checked_trackers = m.checked->trackers.all();
  const auto twin_trackers = m.twin->trackers.all();
  std::vector<detail::Quantity> quantities;
  for (size_t i = 0; i < checked_trackers.size(); ++i) {
    if (options.group) {
      checked_trackers[i]->merge_over(*options.group);
      twin_trackers[i]->merge_over(*options.group);
    }
    quantities.push_back({checked_trackers[i], twin_trackers[i]});
  }
  return quantities;
}

// The report's differences, verdict and reason; with per_copy, a per-copy run that could not
// run differs.
void record_judgement(const std::vector<detail::Quantity>& quantities, const VerifyOptions& options,
                      VerifyReport& report) {
  auto judgement = detail::judge(quantities);
  report.differences = std::move(judgement.differences);
  report.verdict = judgement.verdict;
  report.reason = std::move(judgement.reason);
  if (options.per_copy && !report.per_copy_error.empty()) {
    if (report.verdict != Verdict::kDiffers) report.reason.clear();
    report.reason += (report.reason.empty() ? "" : "; ") +
                     ("per-copy BatchNorm cannot run " + report.per_copy_error);
    report.verdict = Verdict::kDiffers;
  }
}

// What per-copy BatchNorm (the control) did in the first step, over every rank: its largest
// difference from the reference, unless it failed on some rank.
void record_control(Run& control, const VerifyOptions& options, VerifyReport& report) {
  report.per_copy_error = detail::agree_on_failure(report.per_copy_error, options.group.get());
  const bool failed = !report.per_copy_error.empty();
  if (!failed) {
    if (options.group) control.trackers.outputs.merge_over(*options.group);
    report.per_copy_outputs = control.trackers.outputs.max_rel();
  }
}

// What forward() returns, when not a tensor: the tensors compared and the one a session trains on.
void record_outputs(const OutputChoice& choice, VerifyReport& report) {
  if (!choice.from_tuple()) return;
  report.output_returns = choice.returns;
  report.trained_output = choice.element;
  for (const auto& part : choice.parts) {
    report.outputs_compared.push_back(part.name + " [" + join_sizes(part.sizes, ", ") + "]");
  }
}

// After step `done`: throws StoppedBySignal when a stop signal arrived (Ctrl-C); with other
// ranks, when any of them got one, so that all stop after the same step (one small sum per
// step, beside the step's many).
void stop_if_signalled(const VerifyOptions& options, int done) {
  auto votes = stop_votes();
  if (options.group) {
    auto summed = torch::tensor(std::vector<double>(votes.begin(), votes.end()), torch::kDouble);
    options.group->all_reduce_sum(summed, "verify's vote to stop");
    std::copy_n(summed.data_ptr<double>(), votes.size(), votes.begin());
  }
  const int signal = voted_stop_signal(votes.data());
  if (!signal) return;
  throw StoppedBySignal(signal, "stopped at step " + std::to_string(done) + " of " +
                                    std::to_string(options.steps) + "; no verdict");
}

}  // namespace

VerifyReport verify(const std::string& model_path, const VerifyOptions& options) {
  check_options(options);
  const auto tolerances = verify_tolerances(options.dtype);  // refuses other dtypes first

  auto m = load_models(model_path, options, tolerances);
  auto report = new_report(model_path, options, m.switched_off);
  if (!has_batch_norm(m.checked->model->modules())) {
    report.nothing_to_synchronize = true;
    report.reason = nothing_to_synchronize(model_path) +
                    ": synchronized and per-copy training are both plain data parallelism, and "
                    "nothing was compared";
    return report;
  }
  for (int step = 0; step < options.steps; ++step) {
    if (!detail::run_step(m, options, step, report)) break;
    stop_if_signalled(options, step + 1);
  }
  for (auto* model : {m.reference.get(), m.twin->model.get(), m.checked->model.get()}) {
    model->train(false);
  }
  if (report.per_copy_error.empty() || !options.per_copy) {
    detail::eval_pass(m, options, report.processes);
  }
  record_outputs(m.reference->output_choice(), report);
  record_judgement(merge_over_ranks(m, options), options, report);
  if (m.control) record_control(*m.control, options, report);
  report.ill_conditioned = m.condition->worst();
  return report;
}

}  // namespace replicascope
