// SPDX-License-Identifier: MIT
#include "verify_steps.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>

#include "replicascope/base/describe_error.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/parallel/data_parallel.h"

namespace replicascope::detail {
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

// Compares each tensor of forward()'s result that `got` and `expected` join (`parts`, the
// reference's output_choice().parts), as "output element 1 'aux' (step 2)"; a tensor result as
// "output (step 2)". `label` is "output" or "eval output".
void add_outputs(Tracker& tracker, int step, const std::string& label, const std::string& at,
                 const torch::Tensor& got, const torch::Tensor& expected,
                 const std::vector<OutputPart>& parts) {
  if (parts.size() == 1 && parts.front().name.empty()) {
    tracker.add(step, label + at, got, expected);
    return;
  }
  int64_t offset = 0;
  for (const auto& part : parts) {
    int64_t width = 1;
    for (size_t d = 1; d < part.sizes.size(); ++d) width *= part.sizes[d];
    tracker.add(step, label + " " + part.name + at, got.narrow(1, offset, width),
                expected.narrow(1, offset, width));
    offset += width;
  }
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

// One training step: its batch, this rank's share of it, and what each run made of them.
struct Step {
  int index = 0;                      // 0-based
  std::string at;                     // " (step N)": ends the names of the tensors compared
  RankShare share;                    // this rank's rows of the batch
  torch::Tensor x;                    // the whole batch
  torch::Tensor x_ref, out_ref;       // the reference's input (with its grad) and output
  torch::Tensor projection;           // the loss: the mean of the output times this
  torch::Tensor out_twin, grad_twin;  // the twin's output and input grad, in batch order
  torch::Tensor x_sync, out_sync;     // the checked run's input and output, on the share
  std::vector<OutputPart> parts;      // the tensors of forward()'s result the outputs join
};

// The step's batch, and the reference's and its twin's forward and backward over all of it.
Step reference_pass(Models& m, const VerifyOptions& options, int index) {
  const auto device = options.devices.front();
  Step step;
  step.index = index;
  step.at = " (step " + std::to_string(index + 1) + ")";
  step.x = random_tensor(options.input_shape, options.seed * 1000 + index, options.dtype);
  step.x_ref = step.x.to(device, /*non_blocking=*/false, /*copy=*/true).requires_grad_();
  step.out_ref = m.reference->forward(step.x_ref);
  step.parts = m.reference->output_choice().parts;
  step.projection =
      random_tensor(step.out_ref.sizes(), options.seed * 1000 + 500 + index, options.dtype);
  (step.out_ref * step.projection.to(step.out_ref.device())).mean().backward();
  std::tie(step.out_twin, step.grad_twin) = reversed_step(
      *m.twin->model, step.x, step.projection, device, options.seed * 1000 + 600 + index);
  return step;
}

// The checked run's forward of step.x_sync into step.out_sync: "", or why per-copy BatchNorm
// failed (on this rank or another).
std::string checked_forward(Run& checked, const VerifyOptions& options, Step& step) {
  std::string failure;
  try {
    step.out_sync = data_parallel_forward(*checked.replicas, step.x_sync, step.share.copies,
                                          options.devices.front());
  } catch (const std::exception&) {
    // Per-copy BatchNorm can fail where full-batch BatchNorm runs (a copy with one value per
    // channel): a difference, reported as one.
    if (!options.per_copy) throw;
    failure = root_cause(std::current_exception());
  }
  if (options.per_copy) failure = agree_on_failure(failure, options.group.get());
  return failure;
}

void checked_backward(Run& checked, const Step& step) {
  // This share's terms of the whole batch's mean; the reducer adds the processes' gradients.
  const auto mine =
      step.projection.narrow(0, step.share.offset, step.share.size).to(step.out_sync.device());
  ((step.out_sync * mine).sum() / static_cast<double>(step.out_ref.numel())).backward();
  if (checked.reducer) checked.reducer->finish();
}

// The control (per-copy BatchNorm) on the checked run's input, without gradients: its outputs
// against the reference's, or why it cannot run.
void control_forward(Run& control, const VerifyOptions& options, const Step& step,
                     VerifyReport& report) {
  torch::NoGradGuard no_grad;
  try {
    const auto out = data_parallel_forward(*control.replicas, step.x_sync.detach(),
                                           step.share.copies, options.devices.front());
    add_outputs(control.trackers.outputs, step.index, "output", step.at, out,
                step.out_ref.narrow(0, step.share.offset, step.share.size), step.parts);
  } catch (const std::exception&) {  // per-copy BatchNorm cannot run what sync can
    report.per_copy_error = root_cause(std::current_exception());
  }
}

// The step's outputs and input grads of the checked run and the twin, on this rank's share.
void compare_outputs(Run& twin, Run& checked, const Step& step) {
  const auto mine_of = [&](const torch::Tensor& t) {
    return t.narrow(0, step.share.offset, step.share.size);
  };
  const auto& at = step.at;
  add_outputs(checked.trackers.outputs, step.index, "output", at, step.out_sync,
              mine_of(step.out_ref), step.parts);
  add_outputs(twin.trackers.outputs, step.index, "output", at, mine_of(step.out_twin),
              mine_of(step.out_ref), step.parts);
  checked.trackers.input_grads.add(step.index, "input" + at, step.x_sync.grad(),
                                   mine_of(step.x_ref.grad()));
  twin.trackers.input_grads.add(step.index, "input" + at, mine_of(step.grad_twin),
                                mine_of(step.x_ref.grad()));
}

}  // namespace

void nudge_parameters(ScriptedModel& model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : model.named_parameters()) p.copy_(nudge(p, seed++));
}

std::string agree_on_failure(const std::string& failure, dist::ProcessGroup* group) {
  if (!group) return failure;
  const auto flags = group->all_gather(torch::tensor({failure.empty() ? 0.0 : 1.0}, torch::kDouble),
                                       "verify's per-copy run");
  for (int r = 0; failure.empty() && r < group->size(); ++r) {
    if (flags[r].item<double>() > 0) return "rank " + std::to_string(r) + "'s copies failed";
  }
  return failure;
}

bool run_step(Models& m, const VerifyOptions& options, int index, VerifyReport& report) {
  auto step = reference_pass(m, options, index);
  const int rank = options.group ? options.group->rank() : 0;
  const size_t copies = options.devices.size();
  report.splits.push_back(
      split_for_step(index, options.input_shape.front(), report.processes * copies));
  step.share = rank_share(report.splits.back(), rank, copies);
  step.x_sync = step.x.narrow(0, step.share.offset, step.share.size).clone().requires_grad_();
  const auto failure = checked_forward(*m.checked, options, step);
  if (!failure.empty()) {
    report.per_copy_error = "step " + std::to_string(index + 1) + ": " + failure;
    return false;
  }
  checked_backward(*m.checked, step);
  if (m.control && index == 0) control_forward(*m.control, options, step, report);
  compare_outputs(*m.twin, *m.checked, step);
  compare_step(*m.reference, {m.twin.get(), m.checked.get()}, options.learning_rate, index,
               step.at);
  return true;
}

void eval_pass(Models& m, const VerifyOptions& options, int processes) {
  torch::NoGradGuard no_grad;
  const auto device = options.devices.front();
  const int rank = options.group ? options.group->rank() : 0;
  const size_t copies = options.devices.size();
  const int64_t batch = options.input_shape.front();
  const auto x = random_tensor(options.input_shape, options.seed * 1000 + 999, options.dtype);
  const auto share = rank_share(split_sizes(batch, processes * copies), rank, copies);
  const auto expected = m.reference->forward(x.to(device)).narrow(0, share.offset, share.size);
  const auto parts = m.reference->output_choice().parts;
  const auto reversed = [&] {
    OtherThreadCount other_threads;
    return reverse_batch(m.twin->model->forward(twin_input(x, options.seed * 1000 + 699, device)));
  }();
  add_outputs(m.twin->trackers.eval_outputs, 0, "eval output", "",
              reversed.narrow(0, share.offset, share.size), expected, parts);
  add_outputs(m.checked->trackers.eval_outputs, 0, "eval output", "",
              data_parallel_forward(*m.checked->replicas, x.narrow(0, share.offset, share.size),
                                    share.copies, device),
              expected, parts);
}

}  // namespace replicascope::detail
