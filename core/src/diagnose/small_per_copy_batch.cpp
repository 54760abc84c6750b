// SPDX-License-Identifier: MIT
// small-per-copy-batch: per-copy (unsynchronized) BatchNorm on few samples per copy, measured as
// the spread of each copy's standardized deviation u = (m_copy - m) / sqrt(v + eps) over the
// steps: its standard deviation per copy and channel, pooled. A shift that persists (copies fed
// from different distributions) is copies-see-different-data's, not the few samples' noise.
#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include "replicascope/diagnose/statistics.h"
#include "rules.h"

namespace replicascope::diagnose::rules {
namespace {

constexpr double kNoteFrom = 0.05, kWarningFrom = 0.2;  // sd of u, in sigmas of the whole batch
constexpr int64_t kFewestSteps = 3;  // steps with detail before the spread is judged
constexpr size_t kMostLayersSaid = 6;

// One sync point's u over the steps with detail, per copy and channel (copy x channels + c).
struct Spread {
  std::string layer;
  int64_t sync_point = 0;
  std::vector<RunningMoments> cells;
  // The pooled standard deviation over steps: sqrt(sum of squared deviations from each copy
  // and channel's own mean / their degrees of freedom).
  double sd() const {
    double squares = 0, freedom = 0;
    for (const auto& cell : cells) {
      if (cell.n < 2) continue;
      squares += cell.squares;
      freedom += static_cast<double>(cell.n - 1);
    }
    return freedom > 0 ? std::sqrt(std::max(squares, 0.0) / freedom) : 0;
  }
};

class SmallPerCopyBatch : public Rule {
 public:
  explicit SmallPerCopyBatch(const RunFacts& facts) : facts_(facts) {}
  const char* kind() const override { return "small-per-copy-batch"; }

  void observe(const StepEvidence& step) override {
    if (facts_.synchronized) return;  // synchronized layers normalize with the whole batch
    bool detail = false;
    for (const auto& layer : step.layers) {
      note_single_values(step.step, layer);
      if (!layer.detail) continue;
      detail = true;
      add(spread_of(layer), *layer.detail);
    }
    if (detail && ++detail_steps_ >= kFewestSteps) judge(step.step);
    last_step_ = step.step;
  }

  // The spread as it stands, over every step with detail so far: its severity now, since the
  // step it first reached that severity.
  std::vector<Finding> findings() const override {
    std::vector<Finding> out;
    if (single_) out.push_back(*single_);
    const Spread* widest = this->widest();
    if (!widest || widest->sd() < kNoteFrom || detail_steps_ < kFewestSteps) return out;
    Finding f;
    f.kind = kind();
    f.severity = severity_of(widest->sd());
    f.layer = widest->layer;
    f.sync_point = widest->sync_point;
    f.first_step = first_at_[static_cast<size_t>(f.severity)];
    f.last_step = last_step_;
    f.evidence = evidence();
    f.why =
        "per-copy BatchNorm normalizes each copy with its own few samples: its statistics stray "
        "from the whole batch's by this much, noise that synchronized BatchNorm would not have";
    f.what_to_do =
        "synchronize the BatchNorm (SyncBatchNorm; train without --unsync), or give each copy "
        "more samples";
    out.push_back(std::move(f));
    return out;
  }

 private:
  Spread& spread_of(const LayerEvidence& layer) {
    for (auto& s : spreads_) {
      if (s.layer == layer.layer && s.sync_point == layer.sync_point) return s;
    }
    Spread spread;
    spread.layer = layer.layer;
    spread.sync_point = layer.sync_point;
    spreads_.push_back(std::move(spread));
    return spreads_.back();
  }

  static void add(Spread& spread, const LayerStats& stats) {
    const size_t channels = stats.mean.size();
    for (const auto& copy : stats.copies) {
      if (copy.count <= 0 || copy.copy < 0) continue;
      const size_t at = static_cast<size_t>(copy.copy) * channels;
      if (spread.cells.size() < at + channels) spread.cells.resize(at + channels);
      const auto u = deviation(stats, copy, kEps);
      for (size_t c = 0; c < u.size(); ++c) {
        if (std::isfinite(u[c])) spread.cells[at + c].add(u[c]);
      }
    }
  }

  // A copy of one value per channel: its variance is 0, BatchNorm normalizes it to 0.
  void note_single_values(int64_t step, const LayerEvidence& layer) {
    for (const auto& s : layer.summaries) {
      if (s.key.kind != SeriesKey::Kind::kCopy || s.count != 1) continue;
      if (!single_) {
        single_ = Finding{};
        single_->kind = kind();
        single_->severity = Severity::kError;
        single_->layer = layer.layer;
        single_->sync_point = layer.sync_point;
        single_->first_step = step;
        single_->evidence = s.key.label() + " held 1 value per channel at '" + layer.layer +
                            "' (step " + std::to_string(step) +
                            "): its variance is 0, and per-copy BatchNorm makes every value 0";
        single_->why =
            "a copy's BatchNorm on one value per channel erases its input and its "
            "running variance divides by 0 (NaN)";
        single_->what_to_do =
            "give every copy at least 2 samples (a larger batch or fewer "
            "copies), or synchronize the BatchNorm";
      }
      single_->last_step = step;
      if (std::find(single_->series.begin(), single_->series.end(), s.key) == single_->series.end())
        single_->series.insert(
            std::upper_bound(single_->series.begin(), single_->series.end(), s.key), s.key);
    }
  }

  static Severity severity_of(double sd) {
    return sd >= kWarningFrom ? Severity::kWarning : Severity::kNote;
  }

  const Spread* widest() const {
    const Spread* out = nullptr;
    for (const auto& s : spreads_) {
      if (!out || s.sd() > out->sd()) out = &s;
    }
    return out;
  }

  void judge(int64_t step) {
    const Spread* widest = this->widest();
    if (!widest || widest->sd() < kNoteFrom) return;
    auto& first = first_at_[static_cast<size_t>(severity_of(widest->sd()))];
    if (first == 0) first = step;
  }

  std::string evidence() const {
    std::string figures;
    for (size_t i = 0; i < spreads_.size() && i < kMostLayersSaid; ++i) {
      figures += (i ? ", " : "") + figure(spreads_[i].sd()) + " at '" + spreads_[i].layer + "'";
    }
    if (spreads_.size() > kMostLayersSaid)
      figures += " and " + std::to_string(spreads_.size() - kMostLayersSaid) + " more layers";
    return "sd of u " + figures + per_copy() + ", over " + std::to_string(detail_steps_) +
           " steps with every channel kept; u = (copy mean - whole batch mean) / sqrt(whole batch "
           "var + eps), its standard deviation over the steps per copy and channel, pooled; the "
           "rule: a note from 0.05, a warning from 0.2";
  }

  // " with 8 samples per copy", or "" when the run does not say its batch.
  std::string per_copy() const {
    const int64_t copies = int64_t{facts_.copies} * facts_.processes;
    if (facts_.batch <= 0 || copies <= 0) return "";
    if (facts_.batch % copies == 0)
      return " with " + std::to_string(facts_.batch / copies) + " samples per copy";
    return " with about " + figure(static_cast<double>(facts_.batch) / copies) +
           " samples per copy";
  }

  RunFacts facts_;
  std::vector<Spread> spreads_;  // per sync point, in the order first seen
  int64_t detail_steps_ = 0, last_step_ = 0;
  std::array<int64_t, 3> first_at_{};  // by severity: the step the spread first reached it
  std::optional<Finding> single_;
};

}  // namespace

std::unique_ptr<Rule> make_small_per_copy_batch(const RunFacts& facts) {
  return std::make_unique<SmallPerCopyBatch>(facts);
}

}  // namespace replicascope::diagnose::rules
