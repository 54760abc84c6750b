// The synchronized backward as three autograd nodes, with no barrier inside backward:
//
//   copy i:  x_i --LocalMomentsBackward_i--> token_i --+
//                                                      +--> MergeBackward --> linked_i
//   copy i:  (x_i, linked_i, weight_i, bias_i) --NormalizeBackward_i--> y_i
//
// NormalizeBackward_i computes copy i's sum(dy) and sum(dy * x_hat) and passes them to the merge
// node as the gradient of linked_i; the engine runs the merge node once every copy's sums are in
// and it adds them up: that is the cross-copy reduction. LocalMomentsBackward_i then has the
// global sums and computes dx_i in one pass. The engine orders the nodes by their dependencies,
// so this works when every copy's backward runs on one thread (as on the CPU), where a barrier
// would deadlock.
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/variable.h>

#include "sync_batchnorm_detail.h"

namespace replicascope::nn::detail {
namespace {

using torch::autograd::Edge;
using torch::autograd::Node;
using torch::autograd::variable_list;

struct LocalMomentsBackward : Node {
  explicit LocalMomentsBackward(std::shared_ptr<BackwardState> s) : state(std::move(s)) {}

  variable_list apply(variable_list&& grads) override {
    const auto input = state->input.unpack();
    auto sums = grads[0];
    if (!sums.defined()) sums = torch::zeros({2, input.size(1)}, state->mean.options());
    auto dx = kernels::backward_input(state->dy, input, state->mean, state->invstd, state->weight,
                                      sums, state->total_count);
    state->dy = torch::Tensor();
    return {dx};
  }
  std::string name() const override { return "replicascope::LocalMomentsBackward"; }
  void release_variables() override {
    state->input.reset_data();
    state->dy = torch::Tensor();
  }

  std::shared_ptr<BackwardState> state;
};

struct MergeBackward : Node {
  MergeBackward(std::vector<torch::Device> devices_, int64_t channels_,
                std::shared_ptr<dist::ProcessGroup> group_, std::string where_)
      : devices(std::move(devices_)),
        channels(channels_),
        group(std::move(group_)),
        where(std::move(where_)) {}

  variable_list apply(variable_list&& grads) override {
    const auto master = devices.front();
    torch::Tensor total;
    for (const auto& grad : grads) {
      if (!grad.defined()) continue;
      total = total.defined() ? total + grad.to(master) : grad.to(master);
    }
    if (!total.defined()) {
      total = torch::zeros({2, channels}, torch::dtype(torch::kDouble).device(master));
    }
    if (group) {  // then over the processes: one collective per sync point and process
      // A copy: `total` may be the very tensor NormalizeBackward also gave as the parameters'
      // gradients (one copy), and the collective works in place.
      auto sums = total.to(torch::kCPU).clone().contiguous();
      group->all_reduce_sum(sums, where + ", backward");
      total = sums.to(master);
    }
    variable_list out(grads.size());
    for (size_t i = 0; i < out.size(); ++i) {
      if (should_compute_output(i)) out[i] = total.to(devices[i]);
    }
    return out;
  }
  std::string name() const override { return "replicascope::MergeBackward"; }

  std::vector<torch::Device> devices;
  int64_t channels;
  std::shared_ptr<dist::ProcessGroup> group;
  std::string where;
};

struct NormalizeBackward : Node {
  explicit NormalizeBackward(std::shared_ptr<BackwardState> s) : state(std::move(s)) {}

  variable_list apply(variable_list&& grads) override {
    variable_list out(3);
    const auto& dy = grads[0];
    if (!dy.defined()) return out;
    const auto input = state->input.unpack();
    const auto sums = kernels::backward_sums(dy, input, state->mean, state->invstd);
    if (should_compute_output(0)) {
      state->dy = dy;
      out[0] = sums;
    }
    // d/d weight = sum(dy * x_hat), d/d bias = sum(dy): this copy's share; the replicas'
    // gradient edges add the copies' shares up on the original parameters.
    const auto param_options = state->weight.defined() ? state->weight.options() : dy.options();
    if (should_compute_output(1)) out[1] = sums[1].to(param_options);
    if (should_compute_output(2)) out[2] = sums[0].to(param_options);
    return out;
  }
  std::string name() const override { return "replicascope::NormalizeBackward"; }
  void release_variables() override {
    if (!state->has_local_node) state->input.reset_data();
  }

  std::shared_ptr<BackwardState> state;
};

}  // namespace

torch::Tensor attach_local_node(const torch::Tensor& input,
                                const std::shared_ptr<BackwardState>& state) {
  if (!torch::GradMode::is_enabled() || !input.requires_grad()) return {};
  auto node = std::make_shared<LocalMomentsBackward>(state);
  node->set_next_edges(torch::autograd::collect_next_edges(input));
  state->has_local_node = true;
  auto token =
      torch::empty({2, input.size(1)}, torch::dtype(torch::kDouble).device(input.device()));
  torch::autograd::set_history(token, node);
  return token;
}

void attach_merge_node(const std::vector<SyncMessage>& messages, std::vector<SyncResult>& results,
                       const std::shared_ptr<dist::ProcessGroup>& group, const std::string& where) {
  bool any_token = false;
  for (const auto& message : messages) any_token = any_token || message.token.defined();
  if (!any_token || !torch::GradMode::is_enabled()) return;
  std::vector<torch::Device> devices;
  std::vector<Edge> edges;
  for (const auto& message : messages) {
    devices.push_back(message.device);
    edges.push_back(message.token.defined() ? torch::autograd::impl::gradient_edge(message.token)
                                            : Edge());
  }
  auto node = std::make_shared<MergeBackward>(devices, results.front().mean.size(0), group, where);
  node->set_next_edges(std::move(edges));
  for (auto& result : results) {
    result.linked = torch::stack({result.mean, result.invstd});
    torch::autograd::set_history(result.linked, node);
  }
}

void attach_normalize_node(torch::Tensor& output, const SyncResult& result,
                           const torch::Tensor& weight, const torch::Tensor& bias,
                           const std::shared_ptr<BackwardState>& state) {
  if (!torch::GradMode::is_enabled()) return;
  const bool params_need_grad =
      (weight.defined() && weight.requires_grad()) || (bias.defined() && bias.requires_grad());
  if (!result.linked.defined() && !params_need_grad) return;
  auto node = std::make_shared<NormalizeBackward>(state);
  std::vector<Edge> edges{
      result.linked.defined() ? torch::autograd::impl::gradient_edge(result.linked) : Edge()};
  for (const auto& param : {weight, bias}) {
    edges.push_back(param.defined() && param.requires_grad()
                        ? torch::autograd::impl::gradient_edge(param)
                        : Edge());
  }
  node->set_next_edges(std::move(edges));
  torch::autograd::set_history(output, node);
}

}  // namespace replicascope::nn::detail
