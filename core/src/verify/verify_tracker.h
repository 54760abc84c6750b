// SPDX-License-Identifier: MIT
// verify's bookkeeping: the largest difference of one quantity per step (Tracker), the verdict
// of a checked run against the reference's own noise floor (judge), and the BatchNorm channel
// that amplifies rounding the most (ConditionObserver).
#pragma once

#include <torch/torch.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "replicascope/nn/stats_observer.h"
#include "replicascope/verify/verify.h"

namespace replicascope {
namespace dist {
class ProcessGroup;
}  // namespace dist

namespace detail {

// What computes a quantity: the forward pass of a training step (outputs, running stats), its
// backward (gradients), or one forward after training (eval outputs). judge() tells them apart.
enum class Pass { kForward, kBackward, kAfterTraining };

class Tracker {
 public:
  Tracker(std::string quantity, double tolerance, Pass pass);
  // Compares `got` with `expected` (undefined counts as zeros) in `step` (0-based). `floor`: the
  // smallest scale a difference is measured against (see Difference::max_rel). A NaN or
  // infinity in either is remembered as the first non-finite tensor.
  void add(int step, const std::string& name, torch::Tensor got, torch::Tensor expected,
           double floor = 0);
  // The largest differences over every process (each compared the same tensors, by name and
  // order, on its share): the worst is named with its rank.
  void merge_over(dist::ProcessGroup& group);
  double max_rel() const;

  struct Step {
    double max_abs = 0, max_rel = 0;
    int64_t worst = -1;  // index into names_
  };
  const std::vector<Step>& steps() const { return steps_; }
  const std::string& quantity() const { return quantity_; }
  double tolerance() const { return tolerance_; }
  Pass pass() const { return pass_; }
  // The tensor compared `index`-th (with its rank after merge_over, when it was another's).
  std::string name(int64_t index, size_t step) const;
  // Where a NaN or infinity was first seen ("" if nowhere).
  std::string nonfinite() const;
  int64_t compared() const { return static_cast<int64_t>(names_.size()); }

 private:
  Step& at(int step);

  std::string quantity_;
  double tolerance_;
  Pass pass_;
  std::vector<Step> steps_;
  std::vector<std::string> names_;  // in the order compared
  int64_t nonfinite_ = -1;          // the first tensor with a NaN or infinity
  std::string nonfinite_run_;       // "the reference" or "the checked run"
  std::vector<int> worst_ranks_;    // per step, after merge_over; empty before
};

// One quantity of the check: the checked run's tracker and the twin's (the noise floor).
struct Quantity {
  const Tracker* checked;
  const Tracker* noise;
};

// The verdict over all quantities, stage by stage (each training step, then after training):
// at the first stage where a quantity goes beyond both its fixed tolerance and
// kNoiseFloorMultiple x its noise floor, the check differs, unless (inconclusive) the noise floor
// there is chaotic, or only gradients differ while the forward agrees (one rounding can flip a
// ReLU-like kink and move a gradient by a whole term). Beyond the fixed tolerance where the floor
// itself is chaotic is inconclusive too. A NaN or infinity anywhere differs.
struct Judgement {
  std::vector<Difference> differences;  // one per quantity, in order
  Verdict verdict = Verdict::kEqual;
  std::string reason;  // why, when not equal
};
Judgement judge(const std::vector<Quantity>& quantities);

// Watches the checked run's synchronized statistics for IllConditionedChannel.
class ConditionObserver : public nn::StatsObserver {
 public:
  // `eps`: each layer's eps, by name.
  explicit ConditionObserver(std::map<std::string, double> eps) : eps_(std::move(eps)) {}
  void on_sync(const nn::SyncEvent& event) override;
  IllConditionedChannel worst() const;

 private:
  std::map<std::string, double> eps_;
  mutable std::mutex mutex_;
  IllConditionedChannel worst_;
};

}  // namespace detail
}  // namespace replicascope
