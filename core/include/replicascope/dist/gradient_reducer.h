// Sums parameter gradients over the processes of a group, in buckets: each bucket is its
// gradients flattened into one tensor and one all-reduce, so a model of many small parameters
// costs a few collectives, not one per parameter.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "replicascope/dist/process_group.h"

namespace replicascope::dist {

class GradientReducer {
 public:
  // Buckets of about `bucket_bytes`, parameters in the order given (every rank must give the
  // same parameters in the same order).
  GradientReducer(std::vector<torch::Tensor> parameters, std::shared_ptr<ProcessGroup> group,
                  int64_t bucket_bytes = 4 << 20);
  // After backward: every parameter's gradient becomes the sum over the processes. A parameter
  // without a gradient counts as zeros (and gets them), so every rank sends the same sizes.
  void reduce();
  size_t buckets() const { return buckets_.size(); }

 private:
  std::vector<torch::Tensor> parameters_;
  std::vector<std::vector<size_t>> buckets_;  // parameter indices
  std::shared_ptr<ProcessGroup> group_;
};

}  // namespace replicascope::dist
