// SPDX-License-Identifier: MIT
// The search behind a mismatch's proposal (input_check.h): sample shapes the model is likely to
// take, each checked by a forward before it is proposed, so that a "Try --image ..." works.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "replicascope/engine/input_check.h"

namespace replicascope {
class Model;
}  // namespace replicascope

namespace replicascope::engine::detail {

// Why `model` cannot take `input`: a forward in eval mode fails (its error, on one line) or its
// output is not [batch, outputs]; "" when it can. Without gradients unless `record_graph`. The
// model's training flag is restored; `output` gets the output when there is one (with its graph).
// An --output that picks nothing (OutputChoiceError) is thrown: no data changes it.
std::string forward_problem(Model& model, torch::Tensor input, torch::Tensor* output = nullptr,
                            bool record_graph = false);

// What the search found.
struct ShapeSearch {
  std::vector<int64_t> fits;  // a sample shape the model takes (checked); empty when none
  int64_t outputs = 0;        // the model's outputs for it
  // The shapes tried that did not fit, and why the first of them did not.
  std::vector<std::vector<int64_t>> tried;
  std::string first_problem;
  // Why no change of data can help, when that is known without a search (the model returns
  // neither a tensor nor a tuple or list holding a [batch, outputs] one; the data's samples are
  // already the only shape its layers tell).
  std::string hopeless;
};

// Looks for a sample shape that `model` takes, after samples of `failed` gave `problem`: the
// channels and layout its first layer takes at the data's sizes, larger sizes where a pooling or
// kernel found the input too small (and longer clips for 3-D), the sizes the first Linear's
// inputs imply after a flatten, then sizes models are commonly trained at. Each is checked by a
// forward of 2 samples (at most `max_forwards` of them); `failed` is never proposed.
ShapeSearch search_fitting_shape(Model& model, const InputGuess& guess,
                                 const std::vector<int64_t>& failed, const std::string& problem,
                                 int max_forwards = 4);

}  // namespace replicascope::engine::detail
