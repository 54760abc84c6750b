// SPDX-License-Identifier: MIT
// TorchScript models: loading with clear errors, and what is inside them.
#pragma once

#include <torch/script.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace replicascope::script {

// A model file that cannot be used, with what was expected and what was found.
class ModelLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads a TorchScript archive written by torch.jit.save / torch.jit.script(...).save, onto the
// CPU. Throws ModelLoadError for a missing or unreadable file, a file that is not a zip archive,
// a truncated or corrupt archive, and a valid PyTorch archive that holds no TorchScript module
// (torch.save of a state dict, say).
torch::jit::Module load_module(const std::string& path);

// "__torch__.torch.nn.modules.batchnorm.___torch_mangle_3.BatchNorm2d" -> "BatchNorm2d".
std::string readable_type(const std::string& qualified_name);
// The qualified name without the "__torch__." prefix and mangling
// ("torch.nn.modules.batchnorm.BatchNorm2d").
std::string canonical_type(const std::string& qualified_name);

struct TensorInfo {
  std::string name;  // local name within its module
  std::vector<int64_t> shape;
  std::string dtype;
};

// The options of a BatchNorm1d/2d/3d, read from its class constants and attributes.
struct BatchNormInfo {
  int dims = 2;  // 1, 2 or 3
  int64_t num_features = 0;
  double eps = 1e-5;
  std::optional<double> momentum;  // unset: cumulative average
  bool affine = true;
  bool track_running_stats = true;
};

// The options of `module` if it is a BatchNorm1d/2d/3d (its class, mangled or not), else none.
std::optional<BatchNormInfo> batch_norm_info(const torch::jit::Module& module);

struct ModuleInfo {
  std::string name;                             // qualified name, "" for the root
  int depth = 0;                                // 0 for the root
  std::string type;                             // readable type name
  std::string full_type;                        // the class's qualified name as stored
  std::vector<TensorInfo> parameters, buffers;  // this module's own
  int64_t own_parameter_count = 0;              // elements in its own parameters
  int64_t subtree_parameter_count = 0;          // elements in its and its descendants' parameters
  std::optional<BatchNormInfo> batch_norm;      // set for BatchNorm1d/2d/3d
  // Whether a replicated copy of this module gets replication callbacks (the BatchNorm layers,
  // which become synchronized).
  bool receives_callbacks = false;
};

// Every module of `module` in module order (pre-order, as named_modules()).
std::vector<ModuleInfo> inspect(const torch::jit::Module& module);

}  // namespace replicascope::script
