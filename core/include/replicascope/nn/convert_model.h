// SPDX-License-Identifier: MIT
// convert_model: swap torch::nn::BatchNorm1d/2d/3d in a module tree for synchronized ones.
#pragma once

#include <torch/nn/module.h>

#include <chrono>
#include <memory>
#include <optional>

#include "replicascope/nn/sync_batchnorm.h"

namespace replicascope::nn {

struct ConvertOptions {
  EpsMode eps_mode = EpsMode::kAdd;
  std::optional<std::chrono::milliseconds> timeout;  // unset: sync::default_timeout()
};

// Replaces every torch::nn::BatchNorm1d/2d/3d in `module`'s tree with the synchronized layer of
// the same options, holding the very same weight, bias, running stats and num_batches_tracked
// tensors (so an optimizer made before the conversion still trains the result). Each layer's
// name is its qualified name in the tree.
//
// Containers (Sequential, ModuleList, ModuleDict) are changed in place, so holders that point at
// them stay valid. Returns the root: `module` itself, or the new layer when the root is a
// BatchNorm. A C++ module reaches its children through typed members that the conversion cannot
// rewrite, so a BatchNorm held directly by any other module type is refused with
// std::invalid_argument that names it: declare that member as SynchronizedBatchNorm*d instead.
std::shared_ptr<torch::nn::Module> convert_model(const std::shared_ptr<torch::nn::Module>& module,
                                                 const ConvertOptions& options = {});

// Names every synchronized layer in `module`'s tree after its qualified name.
void name_sync_layers(torch::nn::Module& module);

}  // namespace replicascope::nn
