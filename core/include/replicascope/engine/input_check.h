// SPDX-License-Identifier: MIT
// Whether a model can take a dataset's samples, said before the first step in one sentence that
// helps ("conv1 expects 3 input channels; the data has 1"), instead of every copy's TorchScript
// traceback at step 1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "replicascope/base/usage.h"

namespace replicascope {
class Model;
namespace data {
class Dataset;
}  // namespace data
}  // namespace replicascope

namespace replicascope::engine {

// What a model's parameters say about its input and output, in module order: the first
// Conv1d/2d/3d's weight is [out, in / groups, k...]; the last Linear's is the classifier's
// [classes, in] (not trusted when a convolution comes after it).
struct InputGuess {
  std::string first_conv;    // "conv1"; "" when the model has no convolution
  int64_t in_channels = 0;   // the first convolution's weight.size(1)
  int64_t spatial_dims = 0;  // 1, 2 or 3 (Conv1d, Conv2d, Conv3d)
  std::string first_linear;  // "layers.0"; "" when the model has no Linear
  int64_t in_features = 0;   // the first Linear's inputs
  std::string classifier;    // "fc"; "" when the model has no Linear
  int64_t classes = 0;       // the classifier's outputs
  // A sample shape of the layout the model takes: in_channels, then the sizes of `sample` where
  // it has as many dimensions as the first convolution wants, else 32 per spatial dim (8 frames
  // for 3-D); without a convolution, the first Linear's in_features (samples of features); else
  // empty. A guess: input_check proposes only what a forward was seen to take.
  std::vector<int64_t> proposed_image(const std::vector<int64_t>& sample = {}) const;
};
InputGuess guess_input(const Model& model);

// What the session's data could be instead (empty and 0 where the model says nothing), for a
// dialog to fill in: --data, --image and --classes.
struct DataProposal {
  std::string data;  // "synthetic" when the data's own kind cannot be made to fit
  std::vector<int64_t> image;
  int64_t classes = 0;
  std::string flags() const;  // "--data synthetic --image 3,32,32"; "" for none
};
struct SessionSpec;
// `spec` with the proposal's data, image and classes.
void apply_proposal(SessionSpec& spec, const DataProposal& proposal);

// The model cannot take the data; the message says why and what would fit.
class ModelDataMismatch : public UsageError {
 public:
  ModelDataMismatch(const std::string& message, DataProposal proposal)
      : UsageError(message), proposal_(std::move(proposal)) {}
  const DataProposal& proposal() const { return proposal_; }

 private:
  DataProposal proposal_;
};

// How many outputs a sample gets: K of the [2, K] output of one forward of two random samples of
// `sample` (in eval mode, without gradients; the model's training flag is restored); 0 when that
// forward fails or its output is not [2, K]. Synthetic data without --classes has K classes.
// Throws OutputChoiceError for an --output that picks nothing.
int64_t model_outputs(Model& model, const std::vector<int64_t>& sample);

// What the check's forward of the data's first samples kept for a backward (on the CPU: its
// graph's saved tensors and its output), from which a batch's memory is estimated
// (batch_memory.h).
struct ForwardMemory {
  int64_t samples = 0;
  int64_t kept_bytes = 0;
};

// Throws ModelDataMismatch when the data's samples cannot go into the model's first convolution
// (other channels, other dimensions), when one forward of two samples (in eval mode, without
// gradients) fails, or when its output is not [batch, outputs] with an output for every class
// of the data (that forward records a graph, so that what it keeps for a backward is measured).
// The message names the layer and both sides, and ends with a --data/--image/
// --classes that a forward of 2 samples was seen to take (never the shape that failed; a few
// forwards at most: the layout the first layer takes at the data's sizes, larger sizes where a
// pooling found the input too small, the sizes a Linear after a flatten implies, common sizes),
// or says that no change of data was found to help and what else fails. Give it a model of its
// own (not the session's): a BatchNorm without running statistics reduces its batch in eval
// mode too, and would report or synchronize.
ForwardMemory check_model_fits_data(Model& model, const data::Dataset& data);

}  // namespace replicascope::engine
