// SPDX-License-Identifier: MIT
// Which tensor of forward()'s result a model trains on. forward() may return the scores per
// class itself, or a tuple, named tuple or list holding them (torchvision's googlenet and
// inception_v3 return GoogLeNetOutputs(logits, aux_logits2, aux_logits1) and
// InceptionOutputs(logits, aux_logits) when scripted): by default the first element that is a
// [batch, outputs] tensor; --output N picks element N, --output NAME a named tuple's field.
#pragma once

#include <ATen/core/ivalue.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "replicascope/base/usage.h"

namespace replicascope {

// One tensor of forward()'s result.
struct OutputPart {
  std::string name;  // "element 0 'logits'", "element 2.1"; "" when the result is the tensor
  std::vector<int64_t> sizes;
};

// What forward() returned and which of its tensors is the model's output.
struct OutputChoice {
  // "" for a tensor; the named tuple's type ("GoogLeNetOutputs"), or "a tuple of 2 elements",
  // "a list of 3 elements".
  std::string returns;
  std::string element;         // the element chosen, "element 0 'logits'"; "" for a tensor
  std::vector<int64_t> sizes;  // the chosen tensor's, at the forward that chose it
  // With every_output (ScriptedModelOptions), the tensors joined into the output, in order.
  std::vector<OutputPart> parts;

  bool from_tuple() const { return !returns.empty(); }
  // "tensor", or "element 0 'logits' of GoogLeNetOutputs" (a run's meta.model_output).
  std::string description() const;
  // "" for a tensor; else what to say once when a session opens: "model: forward() returns
  // GoogLeNetOutputs; training on element 0 'logits' [2, 10] (--output picks another)".
  std::string notice() const;
};

// An --output that picks nothing: an element past the end, a name the result does not have, an
// element that is not a tensor, or any choice for a model that returns a tensor. A usage error
// (exit 2): the message names the model, the choice and what forward() returns.
class OutputChoiceError : public UsageError {
 public:
  using UsageError::UsageError;
};

// Throws OutputChoiceError unless `choice` is auto, an element's number or a field's name.
void check_output_choice(const std::string& choice);

struct SelectedOutput {
  torch::Tensor tensor;
  OutputChoice choice;
};

// The tensor of `output` (forward()'s result for a batch of `batch` samples) that `choice`
// picks: auto ("" too) takes a tensor as it is and, of a tuple or list, the first element that
// is a [batch, K] tensor; a number that element; a name a named tuple's field. Throws
// OutputChoiceError for a choice that picks nothing, and std::invalid_argument (see
// is_unusable_output) for a result that holds no tensor auto could take. `source` names the
// model in messages.
SelectedOutput select_output(const c10::IValue& output, const std::string& choice, int64_t batch,
                             const std::string& source);

// Every tensor of `output` that has a row per sample ([batch, ...]; of tuples and lists within
// it too; None and other values left out), each flattened to [batch, n] and joined along
// dimension 1 in the dtype of the first: what verify compares, every element at once, through
// the copies' scatter and gather. A tensor result is returned as it is. choice.parts names and
// sizes the pieces. Throws std::invalid_argument when no tensor has a row per sample.
SelectedOutput join_outputs(const c10::IValue& output, int64_t batch, const std::string& source);

// Whether `message` says that forward() returns nothing a session can train on (no change of
// data helps that).
bool is_unusable_output(const std::string& message);

}  // namespace replicascope
