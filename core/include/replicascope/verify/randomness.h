// SPDX-License-Identifier: MIT
// Where a scripted model draws random numbers in training: found by walking the TorchScript
// graphs of its forward (and every method and function it calls), not by module type, so
// stochastic depth, F.dropout in a forward, RReLU and noise injection are found as surely as
// Dropout modules. verify needs this: two runs of a model that draws would draw differently.
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

namespace replicascope::script {

// One operation that draws random numbers, where it is called.
struct RandomDraw {
  std::string module;     // the module whose code calls it ("" for the model itself)
  std::string operation;  // "aten::bernoulli_"
  // The modules whose `training` flag decides whether it draws (through its arguments or the
  // conditions it sits under). Empty: it draws whatever any training flag says.
  std::vector<std::string> follows;
  bool can_be_switched_off() const { return !follows.empty(); }
};

// Every draw reachable from `root`'s forward, each (module, operation) once, in the order met.
std::vector<RandomDraw> find_random_draws(const torch::jit::Module& root);

// The names of the modules whose training flag must be off for none of `draws` to draw, sorted.
// Throws std::invalid_argument naming the module and the operation of a draw that no flag
// switches off.
std::vector<std::string> modules_to_switch_off(const std::vector<RandomDraw>& draws);

// Sets `training` to false on each named module of `root`, not on its children (a block that
// calls F.dropout keeps its BatchNorm in training mode).
void switch_off_training(torch::jit::Module& root, const std::vector<std::string>& names);

}  // namespace replicascope::script
