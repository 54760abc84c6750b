// SPDX-License-Identifier: MIT
// Proof that a model's synchronized data-parallel training equals full-batch training: the same
// SGD steps on the converted model over N copies and on the unconverted model on one device,
// from the same weights and data, compared quantity by quantity.
#pragma once

#include <torch/types.h>

#include <cmath>
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
  // The negative control: check per-copy BatchNorm (what plain data parallelism does) instead of
  // the synchronized one. It must differ from the reference wherever a BatchNorm sees more than
  // one copy; that shows the check is not vacuous.
  bool per_copy = false;
  // Which tensor of forward()'s result a session trains on (ScriptedModelOptions::output): an
  // --output that picks nothing is refused (OutputChoiceError); every tensor is compared either
  // way.
  std::string output = "auto";
};

// A check's answer. Inconclusive: the reference moves from itself (the noise floor) by more
// than kChaoticNoiseFloor, so no difference can be told from the model's own amplified rounding.
enum class Verdict { kEqual, kDiffers, kInconclusive };
const char* to_string(Verdict verdict);  // "equal", "differs", "inconclusive"

// A difference is allowed up to max(tolerance, kNoiseFloorMultiple x the noise floor), per
// quantity and step.
constexpr double kNoiseFloorMultiple = 10;
constexpr double kChaoticNoiseFloor = 1e-2;

// One quantity of the check, at its worst step (or at the step that decided the verdict).
struct Difference {
  std::string quantity;  // "outputs", "input grads", ...
  double max_abs = 0;    // max |checked - reference| over every step and tensor
  // max over tensors of max |s - r| / max(max |r|, floor); the floor is 1% of the largest
  // reference value of that quantity in that step (a grad that is zero in theory, like that of a
  // bias followed by BatchNorm, holds only rounding noise)
  double max_rel = 0;
  std::string worst;     // the tensor (and step) with the largest max_rel, or the first that was
                         // not finite
  double tolerance = 0;  // the fixed tolerance on max_rel
  // The reference against itself at that step: max_rel of the same quantity when the reference
  // runs again on the batch in reverse order, with another intra-op thread count, its input and
  // weights moved by one unit in the last place (only rounding, amplified by the model, moves
  // it).
  double noise_floor = 0;
  // max(tolerance, kNoiseFloorMultiple x noise_floor): what max_rel is judged against.
  double allowed = 0;
  int64_t compared = 0;  // tensors compared
  bool finite = true;    // false: a NaN or infinity in either run, a failure (named in worst)
  Verdict verdict = Verdict::kEqual;
  bool passed() const { return verdict == Verdict::kEqual; }
  // Equal only because the reference's own noise floor is above the fixed tolerance.
  bool floor_decides() const { return passed() && max_rel > tolerance; }
};

// The BatchNorm channel that amplifies rounding the most, as seen by the checked run: the
// largest |mean| / sqrt(var + eps), the factor by which subtracting the mean magnifies the
// relative rounding error of its input.
struct IllConditionedChannel {
  std::string layer;  // empty when no BatchNorm ran
  int64_t channel = 0;
  double mean = 0;
  double std = 0;  // sqrt(var + eps)
  double amplification() const { return std > 0 ? std::abs(mean) / std : 0.0; }
};

struct VerifyReport {
  std::string model;
  std::string dtype;  // "float64" or "float32"
  int processes = 1;
  // samples per copy, per step (with several processes: every process's copies, in rank order)
  std::vector<std::vector<int64_t>> splits;
  std::vector<Difference> differences;
  bool per_copy = false;  // the negative control was checked (VerifyOptions::per_copy)
  // Modules run in eval mode in every run because their forward draws random numbers, with the
  // operation: "features.1.0.stochastic_depth (aten::bernoulli_)".
  std::vector<std::string> switched_off;
  // What per-copy BatchNorm would have done (without per_copy): the largest relative difference
  // of the first step's outputs from the reference's; -1 when not measured.
  double per_copy_outputs = -1;
  // Why per-copy BatchNorm could not run: the control's first forward, or with per_copy the step
  // where the checked run stopped (then the check differs).
  std::string per_copy_error;
  IllConditionedChannel ill_conditioned;
  // When forward() returns a tuple, named tuple or list ("GoogLeNetOutputs"; "" for a tensor):
  // its tensors compared, each under outputs and eval outputs by its name ("element 1 'aux'
  // [8, 3]"; the worst tensor says "output element 1 'aux' (step 2)"), and the one a session
  // trains on ("element 0 'logits'"; "" when none is [batch, K]).
  std::string output_returns;
  std::vector<std::string> outputs_compared;
  std::string trained_output;
  // Judged stage by stage (each step, then eval): at the first stage where a quantity is beyond
  // both its fixed tolerance and kNoiseFloorMultiple x its noise floor, the check differs;
  // unless only gradients are, while the forward agrees (one rounding can flip a ReLU-like kink
  // and move a gradient by a whole term; float64 concludes), or the floor there is chaotic:
  // then it is inconclusive. A NaN or infinity differs.
  Verdict verdict = Verdict::kEqual;
  std::string reason;  // why, when not equal; or why nothing was compared
  // The model has no BatchNorm: there is nothing to synchronize, so nothing was run or compared
  // (no differences; equal, and `reason` says so).
  bool nothing_to_synchronize = false;
  bool passed() const { return verdict == Verdict::kEqual; }
};

// The documented tolerances on max_rel; num_batches_tracked must be exact.
//   float64: 1e-6 for everything;  float32: outputs and running stats 1e-4, grads 1e-3.
struct VerifyTolerances {
  double outputs, grads, running_stats;
};
VerifyTolerances verify_tolerances(torch::ScalarType dtype);

// Runs `options.steps` SGD steps (loss: the mean of the output times a fixed random tensor; of a
// tuple's every tensor with a row per sample, ScriptedModelOptions::every_output) of
// the TorchScript model at `model_path`: its BatchNorm converted to synchronized batch norm on
// the devices, unconverted on the whole batch on the first device (the reference), and the
// reference again on the batch in reverse order, with another thread count and its weights and
// input moved by one unit in the last place (its noise floor). The second step splits the
// batch unevenly when there are several copies and enough samples. After the last step all run
// once in eval mode. Modules whose forward draws random numbers under their training flag run
// in eval mode throughout (script::find_random_draws). A model without BatchNorm has nothing to
// synchronize: the report says so and nothing runs. Throws script::ModelLoadError, or
// std::invalid_argument on bad input (an input larger than the memory this process can have
// included) and on a draw that no training flag switches off. Throws
// StoppedBySignal after a step once SIGINT, SIGTERM or SIGHUP arrived (base/stop_signals.h; with
// options.group, on any rank: every rank stops after the same step).
VerifyReport verify(const std::string& model_path, const VerifyOptions& options);

}  // namespace replicascope
