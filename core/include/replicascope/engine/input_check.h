// Whether a model can take a dataset's samples, said before the first step in one sentence that
// helps ("conv1 expects 3 input channels; the data has 1"), instead of every copy's TorchScript
// traceback at step 1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  std::string classifier;    // "fc"; "" when the model has no 2-D weight
  int64_t classes = 0;       // the classifier's outputs
  // A sample shape the model takes: in_channels, then 32 per spatial dim (8 frames for 3-D);
  // empty without a convolution.
  std::vector<int64_t> proposed_image() const;
};
InputGuess guess_input(const Model& model);

// Throws UsageError when the data's samples cannot go into the model's first convolution (other
// channels, other dimensions) or the data has more classes than the model has outputs; the
// message names the layer, both sides and a --data/--image that would fit.
void check_model_fits_data(const Model& model, const data::Dataset& data);

}  // namespace replicascope::engine
