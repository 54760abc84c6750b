#include "replicascope/script/verify.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <map>

#include "replicascope/data_parallel.h"
#include "replicascope/describe_error.h"
#include "replicascope/dist/gradient_reducer.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/script/module_file.h"
#include "replicascope/script/randomness.h"
#include "sync_layers.h"
#include "verify_tracker.h"

namespace replicascope {
namespace {

torch::Tensor random_tensor(at::IntArrayRef shape, uint64_t seed, torch::ScalarType dtype) {
  return torch::randn(shape, at::detail::createCPUGenerator(seed), dtype);
}

std::map<std::string, torch::Tensor> by_name(const NamedTensors& tensors) {
  return {tensors.begin(), tensors.end()};
}

// The floor of Difference::max_rel: 1% of the largest reference value among `tensors`.
double relative_floor(const std::vector<torch::Tensor>& tensors) {
  double largest = 0;
  for (const auto& t : tensors) {
    if (t.defined() && t.numel()) largest = std::max(largest, t.abs().max().item<double>());
  }
  return 0.01 * largest;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The second step moves one sample from the last copy to the first, when the last has two.
std::vector<int64_t> split_for_step(int step, int64_t batch, size_t copies) {
  auto sizes = split_sizes(batch, copies);
  if (step == 1 && copies > 1 && sizes.back() >= 2) {
    ++sizes.front();
    --sizes.back();
  }
  return sizes;
}

void sgd_step(Model& model, double learning_rate) {
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : model.named_parameters()) {
    if (!p.grad().defined()) continue;
    p.sub_(p.grad() * learning_rate);
    p.mutable_grad() = torch::Tensor();
  }
}

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

using detail::Pass;
using detail::Tracker;

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

// After a step's backward: every run's parameter gradients, then one SGD step on every model,
// then the running statistics and num_batches_tracked. `at` names the step.
void compare_step(ScriptedModel& reference, const std::vector<Run*>& runs, double learning_rate,
                  int step, const std::string& at) {
  auto ref_params = by_name(reference.named_parameters());
  std::vector<torch::Tensor> ref_grads;
  for (const auto& [name, p] : ref_params) ref_grads.push_back(p.grad());
  const double grad_floor = relative_floor(ref_grads);
  for (auto* run : runs) {
    for (const auto& [name, p] : run->model->named_parameters()) {
      run->trackers.param_grads.add(step, name + at, p.grad(), ref_params.at(name).grad(),
                                    grad_floor);
    }
    sgd_step(*run->model, learning_rate);
  }
  sgd_step(reference, learning_rate);
  auto ref_buffers = by_name(reference.named_buffers());
  std::vector<torch::Tensor> ref_running;
  for (const auto& [name, b] : ref_buffers) {
    if (ends_with(name, "running_mean") || ends_with(name, "running_var")) ref_running.push_back(b);
  }
  const double running_floor = relative_floor(ref_running);
  for (auto* run : runs) {
    for (const auto& [name, b] : run->model->named_buffers()) {
      if (ends_with(name, "num_batches_tracked")) {
        run->trackers.tracked.add(step, name + at, b, ref_buffers.at(name));
      } else if (ends_with(name, "running_mean") || ends_with(name, "running_var")) {
        run->trackers.running.add(step, name + at, b, ref_buffers.at(name), running_floor);
      }
    }
  }
}

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

// The root cause of a failed per-copy forward, in one line: every copy fails the same way, and
// each error carries its TorchScript traceback, which ends with the interpreter's own message.
std::string root_cause(const std::exception_ptr& error) {
  const auto text = describe(error);
  const std::string marker = "RuntimeError: ";
  const auto at = text.rfind(marker);
  const auto start = at == std::string::npos ? 0 : at + marker.size();
  return text.substr(start, text.find('\n', start) - start);
}

// With several processes every rank must learn that one failed before the next collective (the
// backward's, or the control's): `failure` on this rank, else another rank's, else "".
std::string agree_on_failure(const std::string& failure, dist::ProcessGroup* group) {
  if (!group) return failure;
  const auto flags = group->all_gather(torch::tensor({failure.empty() ? 0.0 : 1.0}, torch::kDouble),
                                       "verify's per-copy run");
  for (int r = 0; failure.empty() && r < group->size(); ++r) {
    if (flags[r].item<double>() > 0) return "rank " + std::to_string(r) + "'s copies failed";
  }
  return failure;
}

torch::Tensor reverse_batch(const torch::Tensor& t) {
  return t.flip({0});
}

// The reference's twin runs with another intra-op thread count (1, or 2 where the default is 1):
// the kernels split their sums differently, as they do for copies of other batch sizes.
// Reversing the batch alone moves little: many kernels sum per sample, and BatchNorm
// accumulates float32 in double.
class OtherThreadCount {
 public:
  OtherThreadCount() : threads_(at::get_num_threads()) {
    at::set_num_threads(threads_ > 1 ? 1 : 2);
  }
  ~OtherThreadCount() { at::set_num_threads(threads_); }
  OtherThreadCount(const OtherThreadCount&) = delete;
  OtherThreadCount& operator=(const OtherThreadCount&) = delete;

 private:
  int threads_;
};

// Moves every value of `t` by up to kNudgeUnits units in the last place of its dtype, at random
// (seeded): as far as one rounding moves a value. The checked run's BatchNorm rounds every
// output differently from PyTorch's; the twin's weights and input are moved as much.
constexpr double kNudgeUnits = 1;
torch::Tensor nudge(const torch::Tensor& t, uint64_t seed) {
  torch::NoGradGuard no_grad;
  const double unit = t.scalar_type() == torch::kDouble ? std::numeric_limits<double>::epsilon()
                                                        : std::numeric_limits<float>::epsilon();
  const auto u = torch::rand(t.sizes(), at::detail::createCPUGenerator(seed), torch::kDouble);
  return (t.to(torch::kDouble) * (1 + (2 * u - 1) * (kNudgeUnits * unit))).to(t.options());
}

void nudge_parameters(ScriptedModel& model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : model.named_parameters()) p.copy_(nudge(p, seed++));
}

// The twin's input: the batch reversed and nudged, on `device`.
torch::Tensor twin_input(const torch::Tensor& x, uint64_t seed, torch::Device device) {
  return nudge(reverse_batch(x), seed).to(device);
}

// The reference on the batch in reverse order: its output and input grad, back in batch order.
std::pair<torch::Tensor, torch::Tensor> reversed_step(ScriptedModel& twin, const torch::Tensor& x,
                                                      const torch::Tensor& projection,
                                                      torch::Device device, uint64_t seed) {
  OtherThreadCount other_threads;
  auto x_reversed = twin_input(x, seed, device).requires_grad_();
  const auto out = twin.forward(x_reversed);
  (out * reverse_batch(projection).to(out.device())).mean().backward();
  return {reverse_batch(out.detach()), reverse_batch(x_reversed.grad())};
}

// What the check's models were loaded as and switched to.
struct Models {
  std::unique_ptr<ScriptedModel> reference;
  std::unique_ptr<Run> twin, checked, control;
  std::shared_ptr<detail::ConditionObserver> condition;
  std::vector<std::string> switched_off;  // for the report
};

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
  const auto plain = ScriptedModelOptions().convert(false);
  m.reference = prepare(loaded, path, plain, options, switch_off);
  m.twin = std::make_unique<Run>(prepare(loaded, path, plain, options, switch_off), tolerances);
  nudge_parameters(*m.twin->model, options.seed * 1000 + 700);
  const auto checked = ScriptedModelOptions().synchronize(!options.per_copy);
  m.checked =
      std::make_unique<Run>(prepare(loaded, path, checked, options, switch_off), tolerances);
  std::map<std::string, double> eps;
  for (const auto& layer : m.checked->model->sync_layers()) eps[layer->name()] = layer->info().eps;
  m.condition = std::make_shared<detail::ConditionObserver>(eps);
  m.checked->model->set_stats_observer(m.condition);
  make_data_parallel(*m.checked, options);
  if (!options.per_copy) {
    const auto per_copy = ScriptedModelOptions().synchronize(false);
    m.control =
        std::make_unique<Run>(prepare(loaded, path, per_copy, options, switch_off), tolerances);
    m.control->replicas = m.control->model->replicate(options.devices);
  }
  return m;
}

}  // namespace

VerifyReport verify(const std::string& model_path, const VerifyOptions& options) {
  check_options(options);
  const auto tolerances = verify_tolerances(options.dtype);  // refuses other dtypes first

  const auto device = options.devices.front();
  auto m = load_models(model_path, options, tolerances);
  auto& reference = *m.reference;
  auto& twin = *m.twin;
  auto& checked = *m.checked;
  const int rank = options.group ? options.group->rank() : 0;
  const size_t copies = options.devices.size();

  VerifyReport report;
  report.model = model_path;
  report.dtype = options.dtype == torch::kDouble ? "float64" : "float32";
  report.processes = options.group ? options.group->size() : 1;
  report.per_copy = options.per_copy;
  report.switched_off = m.switched_off;
  const int64_t batch = options.input_shape.front();
  for (int step = 0; step < options.steps; ++step) {
    const std::string at = " (step " + std::to_string(step + 1) + ")";
    const auto x = random_tensor(options.input_shape, options.seed * 1000 + step, options.dtype);
    auto x_ref = x.to(device, /*non_blocking=*/false, /*copy=*/true).requires_grad_();
    const auto out_ref = reference.forward(x_ref);
    const auto projection =
        random_tensor(out_ref.sizes(), options.seed * 1000 + 500 + step, options.dtype);
    (out_ref * projection.to(out_ref.device())).mean().backward();
    const auto [out_twin, grad_twin] =
        reversed_step(*twin.model, x, projection, device, options.seed * 1000 + 600 + step);

    report.splits.push_back(split_for_step(step, batch, report.processes * copies));
    const auto share = rank_share(report.splits.back(), rank, copies);
    auto x_sync = x.narrow(0, share.offset, share.size).clone().requires_grad_();
    torch::Tensor out_sync;
    std::string failure;
    try {
      out_sync = data_parallel_forward(*checked.replicas, x_sync, share.copies, device);
    } catch (const std::exception&) {
      // Per-copy BatchNorm can fail where full-batch BatchNorm runs (a copy with one value per
      // channel): a difference, reported as one.
      if (!options.per_copy) throw;
      failure = root_cause(std::current_exception());
    }
    if (options.per_copy) failure = agree_on_failure(failure, options.group.get());
    if (!failure.empty()) {
      report.per_copy_error = "step " + std::to_string(step + 1) + ": " + failure;
      break;
    }
    // This share's terms of the whole batch's mean; the reducer adds the processes' gradients.
    const auto mine = projection.narrow(0, share.offset, share.size).to(out_sync.device());
    ((out_sync * mine).sum() / static_cast<double>(out_ref.numel())).backward();
    if (checked.reducer) checked.reducer->finish();
    if (m.control && step == 0) {
      torch::NoGradGuard no_grad;
      try {
        const auto out =
            data_parallel_forward(*m.control->replicas, x_sync.detach(), share.copies, device);
        m.control->trackers.outputs.add(step, "output" + at, out,
                                        out_ref.narrow(0, share.offset, share.size));
      } catch (const std::exception&) {  // per-copy BatchNorm cannot run what sync can
        report.per_copy_error = root_cause(std::current_exception());
      }
    }

    const auto mine_of = [&](const torch::Tensor& t) {
      return t.narrow(0, share.offset, share.size);
    };
    checked.trackers.outputs.add(step, "output" + at, out_sync, mine_of(out_ref));
    twin.trackers.outputs.add(step, "output" + at, mine_of(out_twin), mine_of(out_ref));
    checked.trackers.input_grads.add(step, "input" + at, x_sync.grad(), mine_of(x_ref.grad()));
    twin.trackers.input_grads.add(step, "input" + at, mine_of(grad_twin), mine_of(x_ref.grad()));
    compare_step(reference, {&twin, &checked}, options.learning_rate, step, at);
  }
  for (auto* model : {&reference, twin.model.get(), checked.model.get()}) model->train(false);
  if (report.per_copy_error.empty() || !options.per_copy) {
    torch::NoGradGuard no_grad;
    const auto x = random_tensor(options.input_shape, options.seed * 1000 + 999, options.dtype);
    const auto share = rank_share(split_sizes(batch, report.processes * copies), rank, copies);
    const auto expected = reference.forward(x.to(device)).narrow(0, share.offset, share.size);
    const auto reversed = [&] {
      OtherThreadCount other_threads;
      return reverse_batch(twin.model->forward(twin_input(x, options.seed * 1000 + 699, device)));
    }();
    twin.trackers.eval_outputs.add(0, "eval output", reversed.narrow(0, share.offset, share.size),
                                   expected);
    checked.trackers.eval_outputs.add(
        0, "eval output",
        data_parallel_forward(*checked.replicas, x.narrow(0, share.offset, share.size),
                              share.copies, device),
        expected);
  }
  const auto checked_trackers = checked.trackers.all();
  const auto twin_trackers = twin.trackers.all();
  std::vector<detail::Quantity> quantities;
  for (size_t i = 0; i < checked_trackers.size(); ++i) {
    if (options.group) {
      checked_trackers[i]->merge_over(*options.group);
      twin_trackers[i]->merge_over(*options.group);
    }
    quantities.push_back({checked_trackers[i], twin_trackers[i]});
  }
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
  if (m.control) {
    report.per_copy_error = agree_on_failure(report.per_copy_error, options.group.get());
    const bool failed = !report.per_copy_error.empty();
    if (!failed) {
      if (options.group) m.control->trackers.outputs.merge_over(*options.group);
      report.per_copy_outputs = m.control->trackers.outputs.max_rel();
    }
  }
  report.ill_conditioned = m.condition->worst();
  return report;
}

}  // namespace replicascope
