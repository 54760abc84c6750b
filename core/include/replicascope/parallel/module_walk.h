// SPDX-License-Identifier: MIT
// Visiting a module tree.
#pragma once

#include <torch/nn/module.h>

#include <string>

namespace replicascope {

// Calls fn(name, module) for `root` (name "") and then every module below it, in module order
// (as Module::named_modules()). Unlike named_modules() with the root included, it works on a
// module that no shared_ptr holds yet, as inside its own constructor.
template <class F>
void for_each_module(torch::nn::Module& root, F fn) {
  fn(std::string(), root);
  for (const auto& item : root.named_modules("", /*include_self=*/false)) {
    fn(item.key(), *item.value());
  }
}

}  // namespace replicascope
