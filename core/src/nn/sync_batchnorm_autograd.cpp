// SPDX-License-Identifier: MIT
// The synchronized backward: one node per copy and call, run on the copy's own thread (gather's
// backward puts every copy's graph on a thread of its own, parallel_backward.h):
//
//   copy i:  (x_i, weight_i, bias_i) --SyncBatchNormBackward_i--> y_i
//
// The node computes the copy's sum(dy) and sum(dy * x_hat), meets the other copies at the
// layer's backward master, which adds them up in copy order (then over the processes), and
// computes dx_i from the sums of the whole batch. The weight's and bias's gradients are the
// copy's own share; the replicas' links to the original parameters add the copies' shares up.
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/variable.h>

#include "replicascope/parallel/parallel_backward.h"
#include "sync_batchnorm_detail.h"

namespace replicascope::nn::detail {
namespace {

using torch::autograd::Node;
using torch::autograd::variable_list;

torch::Tensor sum_over_processes(const torch::Tensor& total, dist::ProcessGroup& group,
                                 const std::string& layer) {
  // A copy: the collective works in place, and `total` may be a copy's own sums.
  auto sums = total.to(torch::kCPU).clone().contiguous();
  group.all_reduce_sum(sums, "layer '" + layer + "', backward");
  return sums.to(total.device());
}

struct SyncBatchNormBackward : Node, CopyBackwardStep {
  explicit SyncBatchNormBackward(std::shared_ptr<BackwardState> s) : state(std::move(s)) {}

  variable_list apply(variable_list&& grads) override {
    const auto& dy = grads[0];
    const auto input = state->input.unpack();
    // A copy whose output got no gradient still meets the others, with zero sums.
    const auto sums = dy.defined() ? kernels::backward_sums(dy, input, state->mean, state->invstd)
                                   : torch::zeros({2, input.size(1)}, state->mean.options());
    const auto total = reduce(sums);
    variable_list out(3);
    if (should_compute_output(0)) {
      out[0] = kernels::backward_input(dy, input, state->mean, state->invstd, state->weight, total,
                                       state->total_count);
    }
    // d/d weight = sum(dy * x_hat), d/d bias = sum(dy): this copy's share.
    if (dy.defined()) {
      const auto options = state->weight.defined() ? state->weight.options() : dy.options();
      if (should_compute_output(1)) out[1] = sums[1].to(options);
      if (should_compute_output(2)) out[2] = sums[0].to(options);
    }
    return out;
  }
  std::string name() const override { return "replicascope::SyncBatchNormBackward"; }
  void release_variables() override { state->input.reset_data(); }

  const void* backward_step_key() const override {
    return meets_other_copies() ? state->sync.get() : nullptr;
  }
  void end_backward_step(std::exception_ptr error) override {
    if (!meets_other_copies()) return;
    auto& sync = *state->sync;
    if (sync.copy_id == 0) {
      sync.backward_master->leave(0, std::move(error));
    } else {
      sync.backward_pipe.leave(std::move(error));
    }
  }

  bool meets_other_copies() const {
    return state->across_copies && state->sync && state->sync->master->num_copies() > 1;
  }

  torch::Tensor reduce(const torch::Tensor& sums) {
    if (!meets_other_copies()) {
      return state->group ? sum_over_processes(sums, *state->group, state->layer) : sums;
    }
    // On the CPU a graph task's nodes run on the thread that started it: outside gather's copy
    // threads, every copy's backward is on this one thread and waiting would deadlock. (A CUDA
    // node runs on its device's autograd worker, one per device.)
    if (current_backward_copy() < 0 && sums.is_cpu()) {
      throw std::logic_error(
          "layer '" + state->layer + "': the backward of " +
          std::to_string(state->sync->master->num_copies()) +
          " synchronized copies needs each copy on its own thread; gather the copies' outputs "
          "with replicascope::gather (DataParallelWithCallback and data_parallel_forward do)");
    }
    BackwardMessage message{sums, sums.device()};
    auto& sync = *state->sync;
    return sync.copy_id == 0 ? sync.backward_master->run_master(std::move(message))
                             : sync.backward_pipe.run_slave(std::move(message));
  }

  std::shared_ptr<BackwardState> state;
};

}  // namespace

std::vector<torch::Tensor> reduce_backward(std::vector<BackwardMessage>& messages,
                                           const std::shared_ptr<dist::ProcessGroup>& group,
                                           const std::string& layer) {
  const auto master = messages.front().device;
  std::vector<torch::Tensor> sums;
  for (const auto& message : messages) sums.push_back(message.sums);
  auto total = sum_in_copy_order(sums, master);
  if (group) total = sum_over_processes(total, *group, layer);
  std::vector<torch::Tensor> out;
  out.reserve(messages.size());
  for (const auto& message : messages) {
    out.push_back(message.device == master ? total : total.to(message.device));
  }
  return out;
}

void attach_backward_node(torch::Tensor& output, const torch::Tensor& input,
                          const torch::Tensor& weight, const torch::Tensor& bias,
                          const std::shared_ptr<BackwardState>& state) {
  if (!torch::GradMode::is_enabled()) return;
  auto node = std::make_shared<SyncBatchNormBackward>(state);
  node->set_next_edges(torch::autograd::collect_next_edges(input, weight, bias));
  torch::autograd::set_history(output, node);
}

}  // namespace replicascope::nn::detail
