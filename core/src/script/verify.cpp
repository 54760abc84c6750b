#include "replicascope/script/verify.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "replicascope/data_parallel.h"
#include "replicascope/dist/gradient_reducer.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/model/scripted_model.h"

namespace replicascope {
namespace {

torch::Tensor random_tensor(at::IntArrayRef shape, uint64_t seed, torch::ScalarType dtype) {
  return torch::randn(shape, at::detail::createCPUGenerator(seed), dtype);
}

class Tracker {
 public:
  Tracker(std::string quantity, double tolerance) {
    difference_.quantity = std::move(quantity);
    difference_.tolerance = tolerance;
  }
  // `floor`: the smallest scale a difference is measured against (see relative_floor).
  void add(const std::string& name, torch::Tensor got, torch::Tensor expected, double floor = 0) {
    if (!got.defined() && !expected.defined()) return;
    if (!got.defined()) got = torch::zeros_like(expected);
    if (!expected.defined()) expected = torch::zeros_like(got);
    const auto g = got.detach().to(torch::kCPU, torch::kDouble);
    const auto e = expected.detach().to(torch::kCPU, torch::kDouble);
    if (!g.sizes().equals(e.sizes())) {
      throw std::logic_error("verify: '" + name + "' has different shapes in the two runs");
    }
    const double abs = g.numel() ? (g - e).abs().max().item<double>() : 0.0;
    const double scale = e.numel() ? e.abs().max().item<double>() : 0.0;
    const double rel = abs == 0 ? 0.0 : abs / std::max({scale, floor, 1e-30});
    difference_.max_abs = std::max(difference_.max_abs, abs);
    if (rel > difference_.max_rel || difference_.worst.empty()) {
      difference_.max_rel = std::max(difference_.max_rel, rel);
      difference_.worst = name;
      worst_index_ = difference_.compared;
    }
    names_.push_back(name);
    ++difference_.compared;
  }
  // The largest differences over every process (each compared the same tensors, by name and
  // order, on its share): the worst is named with its rank.
  void merge_over(dist::ProcessGroup& group) {
    const auto all = group.all_gather(
        torch::tensor({difference_.max_abs, difference_.max_rel, double(worst_index_)},
                      torch::kDouble),
        "verify's " + difference_.quantity);
    int worst_rank = 0;
    for (int r = 0; r < group.size(); ++r) {
      const double abs = all[r][0].item<double>(), rel = all[r][1].item<double>();
      difference_.max_abs = std::max(difference_.max_abs, abs);
      if (rel > all[worst_rank][1].item<double>()) worst_rank = r;
    }
    difference_.max_rel = all[worst_rank][1].item<double>();
    const auto index = static_cast<size_t>(all[worst_rank][2].item<double>());
    if (index < names_.size())
      difference_.worst = names_[index] + " on rank " + std::to_string(worst_rank);
  }
  const Difference& result() const { return difference_; }

 private:
  Difference difference_;
  std::vector<std::string> names_;  // in the order compared
  int64_t worst_index_ = 0;
};

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

// Dropout draws different masks in the two runs; verify compares everything else.
void disable_dropout(ScriptedModel& model) {
  for (const auto& item : model.module().named_modules()) {
    const auto& name = item.value.type()->name();
    if (name && name->qualifiedName().find("torch.nn.modules.dropout.") != std::string::npos) {
      torch::jit::Module(item.value).train(false);
    }
  }
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

bool VerifyReport::passed() const {
  return std::all_of(differences.begin(), differences.end(),
                     [](const Difference& d) { return d.passed(); });
}

namespace {

// What verify compares, one tracker per quantity.
struct Trackers {
  explicit Trackers(const VerifyTolerances& t)
      : outputs("outputs", t.outputs),
        input_grads("input grads", t.grads),
        param_grads("parameter grads", t.grads),
        running("running stats", t.running_stats),
        tracked("num_batches_tracked", 0.0),
        eval_outputs("eval outputs", t.outputs) {}
  Tracker outputs, input_grads, param_grads, running, tracked, eval_outputs;
  std::vector<Tracker*> all() {
    return {&outputs, &input_grads, &param_grads, &running, &tracked, &eval_outputs};
  }
};

// After a step's backward: the parameter gradients, then one SGD step on both models, then the
// running statistics and num_batches_tracked. `at` names the step.
void compare_step(ScriptedModel& reference, ScriptedModel& synced, double learning_rate,
                  Trackers& t, const std::string& at) {
  auto ref_params = by_name(reference.named_parameters());
  std::vector<torch::Tensor> ref_grads;
  for (const auto& [name, p] : ref_params) ref_grads.push_back(p.grad());
  const double grad_floor = relative_floor(ref_grads);
  for (const auto& [name, p] : synced.named_parameters()) {
    t.param_grads.add(name + at, p.grad(), ref_params.at(name).grad(), grad_floor);
  }
  sgd_step(reference, learning_rate);
  sgd_step(synced, learning_rate);
  auto ref_buffers = by_name(reference.named_buffers());
  std::vector<torch::Tensor> ref_running;
  for (const auto& [name, b] : ref_buffers) {
    if (ends_with(name, "running_mean") || ends_with(name, "running_var")) ref_running.push_back(b);
  }
  const double running_floor = relative_floor(ref_running);
  for (const auto& [name, b] : synced.named_buffers()) {
    if (ends_with(name, "num_batches_tracked")) {
      t.tracked.add(name + at, b, ref_buffers.at(name));
    } else if (ends_with(name, "running_mean") || ends_with(name, "running_var")) {
      t.running.add(name + at, b, ref_buffers.at(name), running_floor);
    }
  }
}

// The unconverted reference and the converted model, in training mode (Dropout off), in
// options.dtype, the reference on the first device.
std::pair<std::unique_ptr<ScriptedModel>, std::unique_ptr<ScriptedModel>> load_models(
    const std::string& model_path, const VerifyOptions& options) {
  auto reference = ScriptedModel::load(model_path, ScriptedModelOptions().convert(false));
  auto synced = ScriptedModel::load(model_path);
  if (!options.devices.front().is_cpu()) reference->module().to(options.devices.front());
  for (auto* model : {reference.get(), synced.get()}) {
    model->train(true);
    disable_dropout(*model);
    model->module().to(options.dtype);
  }
  synced->set_process_group(options.group);
  return {std::move(reference), std::move(synced)};
}

// Sums the gradients over the processes, when there are several.
std::unique_ptr<dist::GradientReducer> make_reducer(
    ScriptedModel& synced, const std::shared_ptr<dist::ProcessGroup>& group) {
  if (!group) return nullptr;
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : synced.named_parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  return std::make_unique<dist::GradientReducer>(params, group);
}

}  // namespace

VerifyReport verify(const std::string& model_path, const VerifyOptions& options) {
  check_options(options);
  verify_tolerances(options.dtype);  // refuses other dtypes before any work

  const auto device = options.devices.front();
  auto [reference, synced] = load_models(model_path, options);
  auto replicas = synced->replicate(options.devices);
  const int rank = options.group ? options.group->rank() : 0;
  const size_t copies = options.devices.size();
  auto reducer = make_reducer(*synced, options.group);

  Trackers t(verify_tolerances(options.dtype));
  VerifyReport report;
  report.model = model_path;
  report.dtype = options.dtype == torch::kDouble ? "float64" : "float32";
  report.processes = options.group ? options.group->size() : 1;
  const int64_t batch = options.input_shape.front();
  for (int step = 0; step < options.steps; ++step) {
    const std::string at = " (step " + std::to_string(step + 1) + ")";
    const auto x = random_tensor(options.input_shape, options.seed * 1000 + step, options.dtype);
    auto x_ref = x.to(device, /*non_blocking=*/false, /*copy=*/true).requires_grad_();
    const auto out_ref = reference->forward(x_ref);
    const auto projection =
        random_tensor(out_ref.sizes(), options.seed * 1000 + 500 + step, options.dtype);
    (out_ref * projection.to(out_ref.device())).mean().backward();
    report.splits.push_back(split_for_step(step, batch, report.processes * copies));
    const auto share = rank_share(report.splits.back(), rank, copies);
    auto x_sync = x.narrow(0, share.offset, share.size).clone().requires_grad_();
    const auto out_sync = data_parallel_forward(*replicas, x_sync, share.copies, device);
    // This share's terms of the whole batch's mean; the reducer adds the processes' gradients.
    const auto mine = projection.narrow(0, share.offset, share.size).to(out_sync.device());
    ((out_sync * mine).sum() / static_cast<double>(out_ref.numel())).backward();
    if (reducer) reducer->finish();

    t.outputs.add("output" + at, out_sync, out_ref.narrow(0, share.offset, share.size));
    t.input_grads.add("input" + at, x_sync.grad(),
                      x_ref.grad().narrow(0, share.offset, share.size));
    compare_step(*reference, *synced, options.learning_rate, t, at);
  }
  reference->train(false);
  synced->train(false);
  {
    torch::NoGradGuard no_grad;
    const auto x = random_tensor(options.input_shape, options.seed * 1000 + 999, options.dtype);
    const auto share = rank_share(split_sizes(batch, report.processes * copies), rank, copies);
    t.eval_outputs.add("eval output",
                       data_parallel_forward(*replicas, x.narrow(0, share.offset, share.size),
                                             share.copies, device),
                       reference->forward(x.to(device)).narrow(0, share.offset, share.size));
  }
  for (auto* tracker : t.all()) {
    if (options.group) tracker->merge_over(*options.group);
    report.differences.push_back(tracker->result());
  }
  return report;
}

}  // namespace replicascope
