// SPDX-License-Identifier: MIT
#include "verify_tracker.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "replicascope/dist/process_group.h"

namespace replicascope::detail {

Tracker::Tracker(std::string quantity, double tolerance, Pass pass)
    : quantity_(std::move(quantity)), tolerance_(tolerance), pass_(pass) {}

Tracker::Step& Tracker::at(int step) {
  if (steps_.size() <= static_cast<size_t>(step)) steps_.resize(step + 1);
  return steps_[step];
}

void Tracker::add(int step, const std::string& name, torch::Tensor got, torch::Tensor expected,
                  double floor) {
  if (!got.defined() && !expected.defined()) return;
  if (!got.defined()) got = torch::zeros_like(expected);
  if (!expected.defined()) expected = torch::zeros_like(got);
  const auto g = got.detach().to(torch::kCPU, torch::kDouble);
  const auto e = expected.detach().to(torch::kCPU, torch::kDouble);
  if (!g.sizes().equals(e.sizes())) {
    throw std::logic_error("verify: '" + name + "' has different shapes in the two runs");
  }
  const auto index = static_cast<int64_t>(names_.size());
  names_.push_back(name);
  auto& s = at(step);
  const bool expected_finite = e.isfinite().all().item<bool>();
  if (!expected_finite || !g.isfinite().all().item<bool>()) {
    if (nonfinite_ < 0) {
      nonfinite_ = index;
      nonfinite_run_ = expected_finite ? "the checked run" : "the reference";
    }
    s.max_abs = s.max_rel = std::numeric_limits<double>::infinity();
    s.worst = index;
    return;
  }
  const double abs = g.numel() ? (g - e).abs().max().item<double>() : 0.0;
  const double scale = e.numel() ? e.abs().max().item<double>() : 0.0;
  const double rel = abs == 0 ? 0.0 : abs / std::max({scale, floor, 1e-30});
  s.max_abs = std::max(s.max_abs, abs);
  if (rel > s.max_rel || s.worst < 0) {
    s.max_rel = std::max(s.max_rel, rel);
    s.worst = index;
  }
}

void Tracker::merge_over(dist::ProcessGroup& group) {
  // [first non-finite tensor, then per step: max abs, max rel, worst tensor]
  auto mine = torch::empty({1 + 3 * static_cast<int64_t>(steps_.size())}, torch::kDouble);
  const bool in_reference = nonfinite_run_ == "the reference";
  mine[0] = nonfinite_ < 0 ? -1.0 : static_cast<double>(2 * nonfinite_ + (in_reference ? 1 : 0));
  for (size_t i = 0; i < steps_.size(); ++i) {
    mine[1 + 3 * i] = steps_[i].max_abs;
    mine[2 + 3 * i] = steps_[i].max_rel;
    mine[3 + 3 * i] = static_cast<double>(steps_[i].worst);
  }
  const auto all = group.all_gather(mine, "verify's " + quantity_);
  for (int r = 0; r < group.size(); ++r) {
    const auto coded = static_cast<int64_t>(all[r][0].item<double>());
    if (coded < 0) continue;
    nonfinite_ = coded / 2;
    nonfinite_run_ = std::string(coded % 2 ? "the reference" : "the checked run") + " on rank " +
                     std::to_string(r);
    break;
  }
  worst_ranks_.assign(steps_.size(), 0);
  for (size_t i = 0; i < steps_.size(); ++i) {
    for (int r = 0; r < group.size(); ++r) {
      const double abs = all[r][1 + 3 * i].item<double>(), rel = all[r][2 + 3 * i].item<double>();
      steps_[i].max_abs = std::max(steps_[i].max_abs, abs);
      if (rel > steps_[i].max_rel) {
        steps_[i].max_rel = rel;
        steps_[i].worst = static_cast<int64_t>(all[r][3 + 3 * i].item<double>());
        worst_ranks_[i] = r;
      }
    }
  }
}

std::string Tracker::name(int64_t index, size_t step) const {
  if (index < 0 || static_cast<size_t>(index) >= names_.size()) return "";
  if (step < worst_ranks_.size())
    return names_[index] + " on rank " + std::to_string(worst_ranks_[step]);
  return names_[index];
}

std::string Tracker::nonfinite() const {
  if (nonfinite_ < 0) return "";
  return names_.at(nonfinite_) + ": not finite in " + nonfinite_run_;
}

double Tracker::max_rel() const {
  double rel = 0;
  for (const auto& s : steps_) rel = std::max(rel, s.max_rel);
  return rel;
}

namespace {

double step_rel(const Tracker& t, size_t step) {
  return step < t.steps().size() ? t.steps()[step].max_rel : 0.0;
}

// Shows `d` at step `i`: its max_rel, noise floor, allowance and worst tensor there.
void at_step(const Quantity& q, size_t i, Difference& d) {
  d.max_rel = step_rel(*q.checked, i);
  d.noise_floor = step_rel(*q.noise, i);
  d.allowed = std::max(d.tolerance, kNoiseFloorMultiple * d.noise_floor);
  d.worst = q.checked->name(q.checked->steps()[i].worst, i);
}

// One quantity at its worst step (the largest max_rel), before any verdict; max_abs is over all
// steps.
Difference summarize(const Quantity& q) {
  Difference d;
  d.quantity = q.checked->quantity();
  d.tolerance = d.allowed = q.checked->tolerance();
  d.compared = q.checked->compared();
  const auto& steps = q.checked->steps();
  for (size_t i = 0; i < steps.size(); ++i) {
    d.max_abs = std::max(d.max_abs, steps[i].max_abs);
    if (steps[i].max_rel > d.max_rel || d.worst.empty()) at_step(q, i, d);
  }
  return d;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Marks the difference of every quantity that saw a NaN or infinity; returns where each was.
std::vector<std::string> mark_nonfinite(const std::vector<Quantity>& quantities,
                                        std::vector<Difference>& differences) {
  std::vector<std::string> nonfinite;
  for (size_t k = 0; k < quantities.size(); ++k) {
    const auto where = quantities[k].checked->nonfinite();
    if (where.empty()) continue;
    auto& d = differences[k];
    d.finite = false;
    d.max_abs = d.max_rel = std::numeric_limits<double>::infinity();
    d.worst = where;
    d.verdict = Verdict::kDiffers;
    nonfinite.push_back(where);
  }
  return nonfinite;
}

// The training steps compared; the pass after training is one more stage.
size_t training_steps(const std::vector<Quantity>& quantities) {
  size_t steps = 0;
  for (const auto& q : quantities) {
    if (q.checked->pass() != Pass::kAfterTraining) {
      steps = std::max(steps, q.checked->steps().size());
    }
  }
  return steps;
}

// The quantities (by index) over their fixed tolerance at a stage: beyond their allowance there,
// or where the noise floor is chaotic.
struct OverTolerance {
  std::vector<size_t> beyond, chaotic;
};

// The quantities over their tolerance at `stage` (of `steps` training steps, then the pass after
// training), their rows in `differences` showing that stage.
OverTolerance over_tolerance(const std::vector<Quantity>& quantities, size_t stage, size_t steps,
                             std::vector<Difference>& differences) {
  OverTolerance over;
  for (size_t k = 0; k < quantities.size(); ++k) {
    const auto& q = quantities[k];
    const bool after_training = q.checked->pass() == Pass::kAfterTraining;
    if (after_training != (stage == steps)) continue;
    const size_t i = after_training ? 0 : stage;
    const double rel = step_rel(*q.checked, i), floor = step_rel(*q.noise, i);
    if (rel <= q.checked->tolerance()) continue;
    if (floor > kChaoticNoiseFloor) {
      over.chaotic.push_back(k);
    } else if (rel > std::max(q.checked->tolerance(), kNoiseFloorMultiple * floor)) {
      over.beyond.push_back(k);
    } else {
      continue;
    }
    at_step(q, i, differences[k]);  // the row shows the stage that decides
  }
  return over;
}

// The verdict and reason of the stage that decides, `at`, and of its rows over tolerance.
void decide_stage(const std::vector<Quantity>& quantities, const OverTolerance& over,
                  const std::string& at, Judgement& j) {
  const auto& beyond = over.beyond;
  const auto& chaotic = over.chaotic;
  std::vector<std::string> names;
  bool forward = false;
  for (auto k : beyond) {
    names.push_back(j.differences[k].quantity);
    forward = forward || quantities[k].checked->pass() != Pass::kBackward;
  }
  if (!beyond.empty() && forward) {
    j.verdict = Verdict::kDiffers;
    j.reason = join(names) + " beyond both the fixed tolerance and " +
               std::to_string(static_cast<int>(kNoiseFloorMultiple)) + "x the noise floor at " + at;
  } else if (!beyond.empty()) {
    j.verdict = Verdict::kInconclusive;
    j.reason = "at " + at + " only " + join(names) +
               " differ while the forward agrees: one rounding can flip a ReLU-like kink and "
               "move a gradient by a whole term";
  } else {
    for (auto k : chaotic) names.push_back(j.differences[k].quantity);
    j.verdict = Verdict::kInconclusive;
    char floor[32];
    std::snprintf(floor, sizeof floor, "%g", kChaoticNoiseFloor);
    j.reason = "the reference moves from itself by more than " + std::string(floor) + " in " +
               join(names) + " at " + at;
  }
  for (auto k : beyond) j.differences[k].verdict = j.verdict;
  for (auto k : chaotic) j.differences[k].verdict = Verdict::kInconclusive;
}

}  // namespace

Judgement judge(const std::vector<Quantity>& quantities) {
  Judgement j;
  for (const auto& q : quantities) j.differences.push_back(summarize(q));
  const auto nonfinite = mark_nonfinite(quantities, j.differences);
  if (!nonfinite.empty()) {
    j.verdict = Verdict::kDiffers;
    j.reason = "a NaN or infinity: " + join(nonfinite);
    return j;
  }
  const size_t steps = training_steps(quantities);
  for (size_t stage = 0; stage <= steps; ++stage) {
    const std::string at =
        stage < steps ? "step " + std::to_string(stage + 1) : std::string("eval after training");
    const auto over = over_tolerance(quantities, stage, steps, j.differences);
    if (over.beyond.empty() && over.chaotic.empty()) continue;
    decide_stage(quantities, over, at, j);
    break;
  }
  // Past the stage that decided, nothing concludes: a row beyond its allowance there is unknown.
  for (auto& d : j.differences) {
    const bool beyond =
        d.max_rel > d.tolerance && (d.noise_floor > kChaoticNoiseFloor || d.max_rel > d.allowed);
    if (d.verdict == Verdict::kEqual && beyond) d.verdict = Verdict::kInconclusive;
  }
  return j;
}

void ConditionObserver::on_sync(const nn::SyncEvent& event) {
  if (!event.mean.defined() || !event.var.defined() || event.mean.numel() == 0) return;
  const auto eps = eps_.count(event.layer) ? eps_.at(event.layer) : 0.0;
  const auto spread = (event.var.to(torch::kDouble) + eps).sqrt();
  const auto amplification = event.mean.to(torch::kDouble).abs() / spread.clamp_min(1e-300);
  const auto channel = amplification.argmax().item<int64_t>();
  const double value = amplification[channel].item<double>();
  std::lock_guard<std::mutex> lock(mutex_);
  if (!worst_.layer.empty() && value <= worst_.amplification()) return;
  worst_.layer = event.layer;
  worst_.channel = channel;
  worst_.mean = event.mean[channel].item<double>();
  worst_.std = spread[channel].item<double>();
}

IllConditionedChannel ConditionObserver::worst() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return worst_;
}

}  // namespace replicascope::detail
