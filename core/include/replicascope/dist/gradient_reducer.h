// SPDX-License-Identifier: MIT
// Sums parameter gradients over the processes of a group, in buckets, overlapped with backward.
//
// Each bucket is a few parameters' gradients flattened into one tensor and one all-reduce, so a
// model of many small parameters costs a few collectives, not one per parameter. A hook on every
// parameter copies its gradient into its bucket as autograd produces it; a bucket whose gradients
// are all in starts its all-reduce at once, on Gloo's threads, while backward goes on with the
// layers below. Buckets hold the parameters in reverse order, the order backward reaches them,
// and start strictly one after another, so every process starts the same collectives in the same
// order whatever order its hooks fire in.
#pragma once

#include <torch/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "replicascope/dist/process_group.h"

namespace replicascope::dist {

struct GradientReducerOptions {
  // Bytes of gradients per bucket. The first bucket is capped lower, as in PyTorch's DDP, so that
  // the first all-reduce starts early in backward.
  int64_t bucket_bytes = 4 << 20;
  int64_t first_bucket_bytes = 1 << 20;
  // False starts every bucket only in finish(), after backward (for measuring the overlap).
  bool overlap = true;
};

class GradientReducer {
 public:
  // Every rank must give the same parameters in the same order. Hooks stay on the parameters
  // until the reducer is destroyed.
  GradientReducer(std::vector<torch::Tensor> parameters, std::shared_ptr<ProcessGroup> group,
                  GradientReducerOptions options = {});
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // After backward: adds this backward's gradients, summed over the processes, to every
  // parameter's gradient (as backward alone would add the local ones, so gradient accumulation
  // over several steps works). A parameter that got no gradient on a rank counts as zeros there.
  void finish();
  // After a backward that threw: drops what was gathered and the sums in flight (without waiting
  // for them), so that the next backward starts clean. finish() does the same when it throws.
  void discard();

  size_t buckets() const { return buckets_.size(); }
  // Of the buckets the last finish() waited for, those that had started inside backward.
  size_t overlapped_buckets() const { return overlapped_; }

 private:
  struct Bucket {
    std::vector<size_t> parameters;  // indices into parameters_
    torch::Tensor flat;              // their gradients, on the CPU
    size_t pending = 0;              // gradients not yet copied in
    ProcessGroup::Wait wait;         // set once started
  };
  torch::Tensor on_gradient(size_t parameter, const torch::Tensor& grad);
  void start_ready_buckets();  // with mutex_ held
  void start(size_t bucket);
  void reset();
  void drop_in_flight();  // with mutex_ held

  std::vector<torch::Tensor> parameters_;
  std::vector<unsigned> hooks_;
  std::vector<size_t> bucket_of_, offset_of_;  // per parameter
  std::vector<bool> arrived_;                  // per parameter, this backward
  std::vector<Bucket> buckets_;
  std::shared_ptr<ProcessGroup> group_;
  GradientReducerOptions options_;
  std::mutex mutex_;  // hooks may fire on several autograd threads (one per device)
  size_t next_to_start_ = 0, overlapped_ = 0;
};

}  // namespace replicascope::dist
