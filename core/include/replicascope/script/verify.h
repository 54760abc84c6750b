// Proof that a model's synchronized data-parallel training equals full-batch training: the same
// SGD steps on the converted model over N copies and on the unconverted model on one device,
// from the same weights and data, compared quantity by quantity.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace replicascope {
namespace dist {
class ProcessGroup;
}  // namespace dist

struct VerifyOptions {
  std::vector<torch::Device> devices;  // the copies
  std::vector<int64_t> input_shape;    // the whole batch: B, C, ...
  int steps = 3;
  uint64_t seed = 0;
  double learning_rate = 0.01;
  // float64 (the default) checks the algorithm: the two runs differ only by rounding, whatever
  // the model. float32 checks at training precision, where rounding differences are amplified by
  // ill-conditioned layers (a channel with almost no variance over a small batch, say).
  torch::ScalarType dtype = torch::kDouble;
  // Several processes: each runs the reference on the whole batch and the synchronized model on
  // its share (the batch is split over processes x copies, in rank order), synchronizing over
  // the group; gradients are summed with dist::GradientReducer. Every rank returns the same
  // report, its differences the largest over the ranks.
  std::shared_ptr<dist::ProcessGroup> group;
};

// The largest difference of one quantity over every step and tensor.
struct Difference {
  std::string quantity;  // "outputs", "input grads", ...
  double max_abs = 0;    // max |synchronized - reference|
  // max over tensors of max |s - r| / max(max |r|, floor); the floor is 1% of the largest
  // reference value of that quantity in that step (a grad that is zero in theory, like that of a
  // bias followed by BatchNorm, holds only rounding noise)
  double max_rel = 0;
  std::string worst;     // the tensor (and step) with the largest max_rel
  double tolerance = 0;  // max_rel must not exceed it
  int64_t compared = 0;  // tensors compared
  bool passed() const { return max_rel <= tolerance; }
};

struct VerifyReport {
  std::string model;
  std::string dtype;  // "float64" or "float32"
  int processes = 1;
  // samples per copy, per step (with several processes: every process's copies, in rank order)
  std::vector<std::vector<int64_t>> splits;
  std::vector<Difference> differences;
  bool passed() const;
};

// The documented tolerances on max_rel; num_batches_tracked must be exact.
//   float64: 1e-6 for everything;  float32: outputs and running stats 1e-4, grads 1e-3.
struct VerifyTolerances {
  double outputs, grads, running_stats;
};
VerifyTolerances verify_tolerances(torch::ScalarType dtype);

// Runs `options.steps` SGD steps (loss: the mean of the output times a fixed random tensor;
// dropout off, since the two runs would draw different masks) of the
// TorchScript model at `model_path` twice: its BatchNorm converted to synchronized batch norm on
// the devices, and unconverted on the whole batch on the first device. The second step splits
// the batch unevenly when there are several copies and enough samples. After the last step both
// run once in eval mode. Throws script::ModelLoadError or std::invalid_argument on bad input.
VerifyReport verify(const std::string& model_path, const VerifyOptions& options);

}  // namespace replicascope
