// SPDX-License-Identifier: MIT
// The walk: a forward data-flow pass over the TorchScript graphs, from the model's forward into
// every method and function it calls. Each non-tensor value (a bool, a number) carries the set
// of modules whose `training` attribute it was computed from; a draw follows the flags of its
// arguments (dropout's `train`) and of the conditions of the blocks it sits in (control
// dependence: `if self.training: noise()`). Tensors carry none: a BatchNorm's output depends on
// its training flag, but that does not decide whether the next layer draws.
#include "replicascope/verify/randomness.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace replicascope::script {
namespace {

using torch::jit::Node;
using torch::jit::Value;
using Flags = std::set<std::string>;  // modules whose training flag a value depends on

// A module reached in a way the walk cannot name (through a list or an interface, say).
const char* const kUnknownModule = "?";
constexpr int kMaxCallDepth = 256;

// An operation's name without the trailing '_' of its in-place form (dropout_ is dropout).
std::string out_of_place(std::string name) {
  if (!name.empty() && name.back() == '_') name.pop_back();
  return name;
}

// Operations that draw, out of place; anything whose schema takes a Generator is caught as well.
bool is_random_name(const std::string& name) {
  static const std::set<std::string> names = {
      "dropout",        "feature_dropout", "alpha_dropout",    "feature_alpha_dropout",
      "native_dropout", "_fused_dropout",  "bernoulli",        "rand",
      "rand_like",      "randn",           "randn_like",       "randint",
      "randint_like",   "randperm",        "normal",           "uniform",
      "multinomial",    "rrelu",           "rrelu_with_noise", "exponential",
      "geometric",      "cauchy",          "log_normal",       "random",
      "poisson",        "binomial",        "_standard_gamma",  "_sample_dirichlet"};
  return names.count(out_of_place(name)) > 0;
}

bool draws(const Node* node) {
  const std::string ns = node->kind().ns().toUnqualString();
  if (ns != "aten") return false;
  const auto* schema = node->maybeSchema();
  if (schema) {
    for (size_t i = 0; i < schema->arguments().size() && i < node->inputs().size(); ++i) {
      const auto& argument = schema->arguments()[i];
      // dropout(x, p, train=False) and rrelu(..., training=False) draw nothing
      if (argument.name() == "train" || argument.name() == "training") {
        const auto constant = torch::jit::toIValue(node->input(i));
        if (constant && constant->isBool() && !constant->toBool()) return false;
      }
    }
  }
  if (is_random_name(node->kind().toUnqualString())) return true;
  if (!schema) return false;
  return std::any_of(schema->arguments().begin(), schema->arguments().end(),
                     [](const c10::Argument& a) {
                       return a.type()->str().find("Generator") != std::string::npos;
                     });
}

bool is_module(const c10::TypePtr& type) {
  const auto cls = type->cast<c10::ClassType>();
  return cls && cls->is_module();
}

std::string join(const std::string& path, const std::string& name) {
  return path.empty() ? name : path + "." + name;
}

// One walk of one graph: whose code it is, and what is known of its values.
bool carries_flags(const Value* value) {
  return value->type()->kind() != c10::TypeKind::TensorType;
}

struct Frame {
  std::string owner;  // the module whose method this is, or whose method called this function
  std::unordered_map<const Value*, Flags> flags;
  std::unordered_map<const Value*, std::string> paths;  // module-typed values

  Flags of(const Value* value) const {
    const auto it = flags.find(value);
    return it == flags.end() ? Flags{} : it->second;
  }
  template <class Values>  // ArrayRef<Value*> or ArrayRef<const Value*>
  Flags of_all(const Values& values) const {
    Flags all;
    for (const auto* value : values) {
      const auto it = flags.find(value);
      if (it != flags.end()) all.insert(it->second.begin(), it->second.end());
    }
    return all;
  }
  void set(const Value* value, Flags f) {
    if (carries_flags(value)) flags[value] = std::move(f);
  }
  std::string path_of(const Value* value) const {
    const auto it = paths.find(value);
    return it == paths.end() ? kUnknownModule : it->second;
  }
};

Flags united(Flags a, const Flags& b) {
  a.insert(b.begin(), b.end());
  return a;
}

class Walker {
 public:
  explicit Walker(std::vector<RandomDraw>& draws) : draws_(draws) {}

  void walk_block(const torch::jit::Block* block, Frame& frame, const Flags& control, int depth) {
    for (const auto* node : block->nodes()) walk_node(node, frame, control, depth);
  }

 private:
  void walk_node(const Node* node, Frame& frame, const Flags& control, int depth) {
    const auto kind = node->kind();
    if (kind == c10::prim::GetAttr) return get_attribute(node, frame);
    if (kind == c10::prim::If) return branch(node, frame, control, depth);
    if (kind == c10::prim::Loop) return loop(node, frame, control, depth);
    if (kind == c10::prim::CallMethod || kind == c10::prim::CallFunction) {
      return call(node, frame, control, depth);
    }
    const auto inputs = frame.of_all(node->inputs());
    if (draws(node)) record(frame.owner, node->kind().toQualString(), united(inputs, control));
    for (const auto* block : node->blocks()) walk_block(block, frame, control, depth);
    for (const auto* output : node->outputs()) frame.set(output, inputs);
  }

  void get_attribute(const Node* node, Frame& frame) {
    const auto& name = node->s(c10::attr::name);
    const auto owner = frame.path_of(node->input());
    if (name == "training") {
      frame.flags[node->output()] = {owner};
    } else if (is_module(node->output()->type()) && owner != kUnknownModule) {
      frame.paths[node->output()] = join(owner, name);
    }
  }

  void branch(const Node* node, Frame& frame, const Flags& control, int depth) {
    const auto condition = frame.of(node->input(0));
    const auto inner = united(control, condition);
    for (const auto* block : node->blocks()) walk_block(block, frame, inner, depth);
    for (size_t i = 0; i < node->outputs().size(); ++i) {
      auto flags = condition;
      for (const auto* block : node->blocks()) flags = united(flags, frame.of(block->outputs()[i]));
      frame.set(node->outputs()[i], flags);
    }
  }

  // A value carried around a loop depends on everything any iteration feeds it; two passes
  // carry the flags once around, enough for a set that only grows.
  void loop(const Node* node, Frame& frame, const Flags& control, int depth) {
    auto carried = frame.of_all(node->inputs());
    const auto* body = node->blocks()[0];
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto* input : body->inputs()) frame.set(input, carried);
      walk_block(body, frame, united(control, carried), depth);
      carried = united(carried, frame.of_all(body->outputs()));
    }
    for (const auto* output : node->outputs()) frame.set(output, carried);
  }

  // Into the callee, with the flags (and module paths) of the arguments. Its outputs follow
  // what it returns; a callee the walk cannot see into passes its arguments' flags on.
  void call(const Node* node, Frame& frame, const Flags& control, int depth) {
    torch::jit::Function* function = nullptr;
    Frame callee;
    size_t first_argument = 0;
    if (node->kind() == c10::prim::CallFunction) {
      const auto type = node->input(0)->type()->cast<c10::FunctionType>();
      function = type ? type->function() : nullptr;
      callee.owner = frame.owner;
      first_argument = 1;
    } else {
      const auto type = node->input(0)->type()->cast<c10::ClassType>();
      function = type ? type->findMethod(node->s(c10::attr::name)) : nullptr;
      callee.owner = frame.path_of(node->input(0));
    }
    auto returned = frame.of_all(node->inputs());
    if (function && function->isGraphFunction() && depth < kMaxCallDepth) {
      const auto graph = torch::jit::toGraphFunction(*function).graph();
      const auto parameters = graph->inputs();
      for (size_t i = 0; i < parameters.size() && first_argument + i < node->inputs().size(); ++i) {
        const auto* argument = node->input(first_argument + i);
        callee.flags[parameters[i]] = frame.of(argument);
        const auto path = frame.paths.find(argument);
        if (path != frame.paths.end()) callee.paths[parameters[i]] = path->second;
      }
      walk_block(graph->block(), callee, control, depth + 1);
      returned = callee.of_all(graph->outputs());
    }
    for (const auto* output : node->outputs()) frame.set(output, returned);
  }

  void record(const std::string& owner, const std::string& operation, const Flags& flags) {
    RandomDraw draw{owner, operation, {}};
    // A flag the walk cannot name cannot be switched off.
    if (!flags.count(kUnknownModule)) draw.follows.assign(flags.begin(), flags.end());
    // dropout and dropout_ (F.dropout has both branches) are one draw
    const bool known = std::any_of(draws_.begin(), draws_.end(), [&](const RandomDraw& d) {
      return d.module == draw.module && out_of_place(d.operation) == out_of_place(draw.operation) &&
             d.follows == draw.follows;
    });
    if (!known) draws_.push_back(std::move(draw));
  }

  std::vector<RandomDraw>& draws_;
};

}  // namespace

std::vector<RandomDraw> find_random_draws(const torch::jit::Module& root) {
  std::vector<RandomDraw> draws;
  const auto forward = root.find_method("forward");
  if (!forward) return draws;
  const auto graph = forward->graph();
  Frame frame;
  frame.paths[graph->inputs()[0]] = "";
  Walker(draws).walk_block(graph->block(), frame, {}, 0);
  return draws;
}

std::vector<std::string> modules_to_switch_off(const std::vector<RandomDraw>& draws) {
  std::set<std::string> names;
  for (const auto& draw : draws) {
    if (!draw.can_be_switched_off()) {
      const auto where =
          draw.module.empty() ? "the model's forward" : "module '" + draw.module + "'";
      throw std::invalid_argument(
          where + " draws random numbers with " + draw.operation +
          " whatever its training flag says, so two runs of it cannot be compared; expected "
          "every draw to depend on a module's `training` flag (as Dropout's does), so that "
          "verify can run that module in eval mode");
    }
    names.insert(draw.follows.begin(), draw.follows.end());
  }
  return {names.begin(), names.end()};
}

void switch_off_training(torch::jit::Module& root, const std::vector<std::string>& names) {
  std::set<std::string> missing(names.begin(), names.end());
  for (const auto& item : root.named_modules()) {
    if (!missing.count(item.name)) continue;
    torch::jit::Module module = item.value;
    module.setattr("training", false);
    missing.erase(item.name);
  }
  if (!missing.empty()) {
    throw std::logic_error("switch_off_training: no module '" + *missing.begin() + "'");
  }
}

}  // namespace replicascope::script
