// SPDX-License-Identifier: MIT
// rank-buffers-differ: the ranks' running statistics differ beyond what explains itself. DDP
// broadcasts rank 0's buffers before a forward with gradient sync on; after that forward's
// update the difference is exactly momentum x (batch_r - batch_0), and 0 with synchronized
// BatchNorm (every rank updates with the same statistics). A residual beyond float
// tolerance means the buffers are not synchronized (a note); a difference beyond the moving
// average's own noise means a checkpoint of rank 0 keeps statistics the other ranks do not have
// (a warning).
#include <algorithm>
#include <cmath>
#include <map>

#include "replicascope/diagnose/statistics.h"
#include "rules.h"

namespace replicascope::diagnose::rules {
namespace {

constexpr double kRankAlpha = 0.01;     // family-wise, two-sided, Bonferroni over layers x ranks
constexpr int64_t kRankPairSteps = 16;  // steps of u before its spread is trusted
constexpr double kTolerance = 1e-5;     // relative: what float32 summaries keep of a difference

// One layer and rank r >= 1, over the steps.
struct RankPair {
  int64_t sync_point = 0, unsynchronized = 0, first_unsynchronized = 0;
  int64_t calls = 0;      // of the layer so far (a cumulative mean's factor is 1 / calls)
  RunningMoments u;       // of u = (b_r - b_0) / sqrt(batch var + eps), a value per step
  double last_z = 0;      // (R_r - R_0) / sqrt(R_0 var + eps) after the last step
  double momentum = 0.1;  // 0: a cumulative mean
};

class RankBuffersDiffer : public Rule {
 public:
  explicit RankBuffersDiffer(const RunFacts& facts) : facts_(facts) {}
  const char* kind() const override { return "rank-buffers-differ"; }

  void observe(const StepEvidence& step) override {
    last_step_ = step.step;
    std::map<std::string, int64_t> calls;
    for (const auto& layer : step.layers) ++calls[layer.layer];
    for (const auto& layer : step.layers) {
      if (layer.sync_point + 1 != calls[layer.layer]) continue;  // the step's last call
      for (const auto& s : layer.summaries) {
        if (s.key.kind == SeriesKey::Kind::kRankRunning)
          add(step.step, layer, s, calls[layer.layer]);
      }
    }
  }

  std::vector<Finding> findings() const override {
    std::vector<Finding> out;
    const double tests = std::max<double>(1, static_cast<double>(pairs_.size()));
    note_unsynchronized(out);
    std::map<int, std::pair<const std::pair<const Key, RankPair>*, double>> worst;  // by rank
    int64_t judged = 0;
    for (const auto& entry : pairs_) {
      const auto& p = entry.second;
      if (p.u.n < kRankPairSteps || (p.momentum > 0 && p.calls < 3 / p.momentum)) continue;
      ++judged;
      const double m = p.momentum > 0 ? p.momentum : 1.0 / static_cast<double>(p.calls);
      const double noise = p.u.sd() * std::sqrt(m / (2 - m));
      const double ratio = noise > 0 ? std::fabs(p.last_z) / noise : 0;
      auto& w = worst[entry.first.second];
      if (!w.first || ratio > w.second) w = {&entry, ratio};
    }
    if (!judged) return out;
    const double critical = student_t_quantile(1 - kRankAlpha / (2 * tests), kRankPairSteps - 1);
    for (const auto& [rank, w] : worst) {
      if (w.second > critical) out.push_back(differ(rank, *w.first, w.second, critical, tests));
    }
    return out;
  }

 private:
  using Key = std::pair<std::string, int>;  // layer, rank

  void add(int64_t step, const LayerEvidence& layer, const KeySummary& other, int64_t calls) {
    const auto* running = summary_of(layer, SeriesKey::running());
    const auto* batch_0 = summary_of(layer, SeriesKey::rank(0));
    const auto* batch_r = summary_of(layer, SeriesKey::rank(other.key.index));
    const auto* whole = summary_of(layer, SeriesKey::synchronized());
    if (!running || !batch_0 || !batch_r || !whole || !layer.settings) return;
    auto& p = pairs_[{layer.layer, other.key.index}];
    p.sync_point = layer.sync_point;
    p.calls += calls;
    p.momentum = layer.settings->momentum.value_or(0);
    const double m = p.momentum > 0 ? p.momentum : 1.0 / static_cast<double>(p.calls);
    const double eps = layer.settings->eps;
    const double difference = other.mean - running->mean, batches = batch_r->mean - batch_0->mean;
    // As broadcast buffers leave them: the difference of this call's update alone (none when
    // every rank updated with the synchronized statistics).
    const double residual = difference - (facts_.synchronized ? 0.0 : m * batches);
    const double scale = std::fabs(other.mean) + std::fabs(running->mean) +
                         std::fabs(batch_r->mean) + std::fabs(batch_0->mean) +
                         std::sqrt(std::max(running->var, 0.0) + eps);
    // (A cumulative mean's factor is 1 / num_batches_tracked, which the run does not know.)
    if (p.momentum > 0 && std::fabs(residual) > kTolerance * scale && p.u.n > 0) {
      if (!p.unsynchronized++) p.first_unsynchronized = step;
    }
    const double u = batches / std::sqrt(std::max(whole->var, 0.0) + eps);
    if (std::isfinite(u)) p.u.add(u);
    p.last_z = difference / std::sqrt(std::max(running->var, 0.0) + eps);
  }

  // One note for the run when a layer's buffers were not the broadcast ones at most steps.
  void note_unsynchronized(std::vector<Finding>& out) const {
    const std::pair<const Key, RankPair>* first = nullptr;
    int64_t layers = 0;
    for (const auto& entry : pairs_) {
      const auto& p = entry.second;
      if (p.u.n < 3 || 2 * p.unsynchronized < p.u.n) continue;
      ++layers;
      if (!first || p.first_unsynchronized < first->second.first_unsynchronized) first = &entry;
    }
    if (!first) return;
    Finding f;
    f.kind = kind();
    f.severity = Severity::kNote;
    f.layer = first->first.first;
    f.sync_point = first->second.sync_point;
    f.series = {SeriesKey::rank(first->first.second)};
    f.first_step = first->second.first_unsynchronized;
    f.last_step = last_step_;
    f.evidence =
        "the ranks' running statistics are not rank 0's broadcast ones: their difference "
        "after a step is not momentum x (the ranks' batch means' difference) at " +
        std::to_string(first->second.unsynchronized) + " of " + std::to_string(first->second.u.n) +
        " steps (" + std::to_string(layers) +
        " layer-rank pair(s)); the rule: a residual above 1e-5 of the values";
    f.why =
        "each rank keeps its own running statistics (DDP's broadcast_buffers=False, or no "
        "forward with gradient sync): a checkpoint of rank 0 keeps rank 0's alone";
    f.what_to_do =
        "if intended, nothing; else keep DDP's broadcast_buffers on, or synchronize "
        "the BatchNorm (SyncBatchNorm)";
    out.push_back(std::move(f));
  }

  Finding differ(int rank, const std::pair<const Key, RankPair>& at, double ratio, double critical,
                 double tests) const {
    const auto& p = at.second;
    Finding f;
    f.kind = kind();
    f.severity = Severity::kWarning;
    f.layer = at.first.first;
    f.sync_point = p.sync_point;
    f.series = {SeriesKey::rank(rank)};
    f.first_step = f.last_step = last_step_;
    f.evidence = "at step " + std::to_string(last_step_) + " rank " + std::to_string(rank) +
                 "'s running mean is " + signed_figure(p.last_z) +
                 " sigma from rank 0's (means over channels), " + figure(ratio) +
                 " times what its moving average's noise explains (sd of the ranks' batch "
                 "difference " +
                 figure(p.u.sd()) + " sigma over " + std::to_string(p.u.n) +
                 " steps, x sqrt(m / (2 - m))); the rule: above " + figure(critical) + " (t, " +
                 std::to_string(kRankPairSteps - 1) + " df, alpha 0.01 over " + figure(tests) +
                 " layer-rank pairs)";
    f.why =
        "rank 0's checkpoint keeps running statistics the other ranks did not train with: "
        "eval on them differs per rank, and the ranks' data likely differ too";
    f.what_to_do =
        "shuffle across ranks (DistributedSampler, set_epoch), keep DDP's "
        "broadcast_buffers on, or synchronize the BatchNorm (SyncBatchNorm)";
    return f;
  }

  RunFacts facts_;
  std::map<Key, RankPair> pairs_;
  int64_t last_step_ = 0;
};

}  // namespace

std::unique_ptr<Rule> make_rank_buffers_differ(const RunFacts& facts) {
  return std::make_unique<RankBuffersDiffer>(facts);
}

}  // namespace replicascope::diagnose::rules
