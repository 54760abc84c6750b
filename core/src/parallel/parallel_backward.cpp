// SPDX-License-Identifier: MIT
#include "replicascope/parallel/parallel_backward.h"

#include <torch/csrc/autograd/engine.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/accumulate_grad.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/graph_task.h>
#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "replicascope/parallel/copy_runner.h"

namespace replicascope {
namespace {

using torch::autograd::Edge;
using torch::autograd::Node;
using torch::autograd::variable_list;

// One copy's part of the backward graph.
struct CopyGraph {
  Edge root;                   // the copy's output
  std::vector<Edge> boundary;  // where its own graph meets what the copies share
  // Nodes that wait for the other copies, one per key; kept alive until the step ends.
  std::vector<std::shared_ptr<Node>> steps;
  torch::Device device{torch::kCPU};
  int64_t size = 0;  // its rows of the gathered output
  // The root itself is shared (or a leaf): nothing of its own to run, its gradient goes on as is.
  bool passthrough = false;
};

// Nodes reachable from `root`, in depth-first order.
std::vector<Node*> reachable(Node* root) {
  std::vector<Node*> order, stack{root};
  std::unordered_set<Node*> seen{root};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    order.push_back(node);
    for (const auto& edge : node->next_edges()) {
      Node* next = edge.function.get();
      if (next && seen.insert(next).second) stack.push_back(next);
    }
  }
  return order;
}

bool is_leaf(const Node* node) {
  return dynamic_cast<const torch::autograd::AccumulateGrad*>(node) != nullptr;
}

// Splits the graph below the copies' outputs: a node that only copy i reaches runs on copy i's
// thread; an edge from such a node into a node that several copies reach, or into a leaf's
// accumulator, is where copy i's part ends. Leaves accumulate on the caller's thread, after
// every copy, so gradients add up in copy order whatever the threads' timing.
std::vector<CopyGraph> split_graph(const std::vector<torch::Tensor>& outputs) {
  std::vector<CopyGraph> copies(outputs.size());
  std::vector<std::vector<Node*>> nodes(outputs.size());
  std::unordered_map<Node*, int> reached_by;
  for (size_t i = 0; i < outputs.size(); ++i) {
    copies[i].device = outputs[i].device();
    copies[i].root = torch::autograd::impl::gradient_edge(outputs[i]);
    if (!copies[i].root.function) continue;
    nodes[i] = reachable(copies[i].root.function.get());
    for (Node* node : nodes[i]) ++reached_by[node];
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto& copy = copies[i];
    if (!copy.root.function) continue;
    if (reached_by[copy.root.function.get()] > 1 || is_leaf(copy.root.function.get())) {
      copy.passthrough = true;
      continue;
    }
    std::unordered_set<const void*> step_keys;
    std::set<std::pair<Node*, uint32_t>> boundary;
    for (Node* node : nodes[i]) {
      if (reached_by[node] > 1 || is_leaf(node)) continue;  // not this copy's own
      if (auto* step = dynamic_cast<CopyBackwardStep*>(node)) {
        const void* key = step->backward_step_key();
        if (key && step_keys.insert(key).second) copy.steps.push_back(node->shared_from_this());
      }
      for (const auto& edge : node->next_edges()) {
        Node* next = edge.function.get();
        if (!next || (reached_by[next] == 1 && !is_leaf(next))) continue;
        if (boundary.emplace(next, edge.input_nr).second) copy.boundary.push_back(edge);
      }
    }
  }
  return copies;
}

struct ParallelGatherBackward : Node {
  ParallelGatherBackward(std::vector<CopyGraph> copies_, int64_t dim_)
      : copies(std::move(copies_)), dim(dim_) {}

  variable_list apply(variable_list&& grads) override {
    if (released) {
      throw std::runtime_error(
          "Trying to backward through the copies' gathered output a second time, after their "
          "graphs were freed; specify retain_graph=true on the first backward if you need to");
    }
    std::vector<int64_t> sizes;
    std::vector<torch::Device> devices;
    for (const auto& copy : copies) sizes.push_back(copy.size), devices.push_back(copy.device);
    const auto& grad = grads[0];
    std::vector<torch::Tensor> chunks(copies.size());
    if (grad.defined()) chunks = grad.split_with_sizes(sizes, dim);
    // Read on the caller's thread: the graph task is thread-local.
    const bool keep_graph = torch::autograd::get_current_graph_task_keep_graph();
    const bool create_graph = torch::GradMode::is_enabled();
    std::vector<variable_list> captured(copies.size());
    run_copies(devices, [&](size_t i) {
      const auto& copy = copies[i];
      if (!copy.root.function || !chunks[i].defined()) return;
      auto chunk = chunks[i].to(copy.device);
      if (copy.passthrough) {
        captured[i] = {chunk};
        return;
      }
      detail::BackwardCopyScope scope(static_cast<int>(i));
      std::exception_ptr error;
      try {
        captured[i] = torch::autograd::Engine::get_default_engine().execute(
            {copy.root}, {chunk}, keep_graph, create_graph, /*accumulate_grad=*/false,
            copy.boundary);
      } catch (...) {
        error = std::current_exception();
      }
      for (const auto& node : copy.steps) {
        dynamic_cast<CopyBackwardStep&>(*node).end_backward_step(error);
      }
      if (error) std::rethrow_exception(error);
    });
    sum_shared_inputs(captured, devices);
    variable_list out;
    for (size_t i = 0; i < copies.size(); ++i) {
      // The node's outputs follow its edges: none for a copy without a gradient.
      const auto& copy = copies[i];
      const size_t wanted = !copy.root.function ? 0 : copy.passthrough ? 1 : copy.boundary.size();
      captured[i].resize(wanted);
      for (auto& g : captured[i]) out.push_back(std::move(g));
    }
    return out;
  }
  std::string name() const override { return "replicascope::ParallelGatherBackward"; }

  // For every node that only sums its inputs (SumsItsInputs), the copies' gradients added up
  // in copy order into the first copy's slot, the others left undefined. The nodes are shared
  // out among the copy threads, largest first, each to the least loaded.
  void sum_shared_inputs(std::vector<variable_list>& captured,
                         const std::vector<torch::Device>& devices) {
    std::vector<std::vector<torch::Tensor*>> groups;
    std::unordered_map<Node*, size_t> group_of;
    for (size_t i = 0; i < copies.size(); ++i) {
      if (copies[i].passthrough) continue;
      for (size_t b = 0; b < copies[i].boundary.size() && b < captured[i].size(); ++b) {
        Node* node = copies[i].boundary[b].function.get();
        if (!dynamic_cast<SumsItsInputs*>(node) || !captured[i][b].defined()) continue;
        auto [it, added] = group_of.emplace(node, groups.size());
        if (added) groups.emplace_back();
        groups[it->second].push_back(&captured[i][b]);
      }
    }
    std::vector<std::vector<size_t>> share(devices.size());
    std::vector<int64_t> load(devices.size(), 0);
    std::vector<size_t> order;
    for (size_t g = 0; g < groups.size(); ++g) {
      if (groups[g].size() > 1) order.push_back(g);
    }
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return groups[a][0]->numel() > groups[b][0]->numel();
    });
    for (size_t g : order) {
      const auto least = std::min_element(load.begin(), load.end()) - load.begin();
      share[least].push_back(g);
      load[least] += groups[g][0]->numel();
    }
    if (order.empty()) return;
    auto sum = [&](size_t g) {
      auto& grads = groups[g];
      std::vector<torch::Tensor> values;
      for (auto* grad : grads) values.push_back(std::move(*grad));
      *grads[0] = sum_in_copy_order(values, values.front().device());
    };
    // Small models: a handoff to the copy threads costs more than the sums.
    constexpr int64_t kWorthSharing = 1 << 18;
    if (std::accumulate(load.begin(), load.end(), int64_t{0}) < kWorthSharing) {
      for (size_t g : order) sum(g);
      return;
    }
    run_copies(devices, [&](size_t w) {
      for (size_t g : share[w]) sum(g);
    });
  }
  void release_variables() override {
    copies.clear();
    released = true;
  }

  std::vector<CopyGraph> copies;
  int64_t dim;
  bool released = false;
};

}  // namespace

torch::Tensor gather_with_parallel_backward(const std::vector<torch::Tensor>& outputs,
                                            const torch::Device& device, int64_t dim) {
  std::vector<torch::Tensor> moved;
  moved.reserve(outputs.size());
  size_t need_grad = 0;
  for (const auto& output : outputs) need_grad += output.requires_grad();
  if (need_grad < 2 || !torch::GradMode::is_enabled()) {
    for (const auto& output : outputs) moved.push_back(output.to(device));
    return torch::cat(moved, dim);
  }
  auto copies = split_graph(outputs);
  for (size_t i = 0; i < outputs.size(); ++i) copies[i].size = outputs[i].size(dim);
  torch::Tensor gathered;
  {
    torch::NoGradGuard no_grad;
    for (const auto& output : outputs) moved.push_back(output.detach().to(device));
    gathered = torch::cat(moved, dim);
  }
  std::vector<Edge> edges;
  for (const auto& copy : copies) {
    if (!copy.root.function) continue;
    if (copy.passthrough) {
      edges.push_back(copy.root);
    } else {
      edges.insert(edges.end(), copy.boundary.begin(), copy.boundary.end());
    }
  }
  auto node = std::make_shared<ParallelGatherBackward>(std::move(copies), dim);
  node->set_next_edges(std::move(edges));
  torch::autograd::set_history(gathered, node);
  return gathered;
}

}  // namespace replicascope
