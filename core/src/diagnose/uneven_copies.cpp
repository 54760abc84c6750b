// SPDX-License-Identifier: MIT
// uneven-copies: copies (or ranks) with very different or zero sample counts.
#include <algorithm>
#include <array>
#include <optional>

#include "rules.h"

namespace replicascope::diagnose::rules {
namespace {

constexpr size_t kMostSeriesSaid = 8;  // series whose counts the evidence lists

// One severity's finding, grown over the steps it is seen at.
struct Sightings {
  std::optional<Finding> finding;
  int64_t steps = 0;
};

class UnevenCopies : public Rule {
 public:
  explicit UnevenCopies(const RunFacts& facts) : facts_(facts) {}
  const char* kind() const override { return "uneven-copies"; }

  void observe(const StepEvidence& step) override {
    if (step.layers.empty()) return;
    // The first layer's counts: every layer of a copy sees the same samples.
    const auto& layer = step.layers.front();
    for (const auto kind : {SeriesKey::Kind::kCopy, SeriesKey::Kind::kRank}) {
      std::vector<KeySummary> series;
      for (const auto& s : layer.summaries) {
        if (s.key.kind == kind && s.count >= 0) series.push_back(s);
      }
      if (series.size() > 1) judge(step.step, layer.layer, series);
    }
  }

  std::vector<Finding> findings() const override {
    std::vector<Finding> out;
    for (const auto& seen : seen_) {
      if (!seen.finding) continue;
      out.push_back(*seen.finding);
      if (seen.steps > 1) {
        out.back().evidence += "; " + std::to_string(seen.steps) + " steps like it (" +
                               step_range(seen.finding->first_step, seen.finding->last_step) + ")";
      }
    }
    return out;
  }

 private:
  void judge(int64_t step, const std::string& layer, const std::vector<KeySummary>& series) {
    const auto [low, high] = std::minmax_element(
        series.begin(), series.end(),
        [](const KeySummary& a, const KeySummary& b) { return a.count < b.count; });
    if (low->count == high->count) return;
    const Severity severity = low->count == 0                 ? Severity::kError
                              : high->count >= 2 * low->count ? Severity::kWarning
                                                              : Severity::kNote;
    auto& seen = seen_[static_cast<size_t>(severity)];
    ++seen.steps;
    if (!seen.finding) seen.finding = first_finding(step, layer, series, severity, high->count);
    auto& f = *seen.finding;
    f.last_step = step;
    for (const auto& s : series) {  // every short series seen, in order
      if (s.count < high->count &&
          std::find(f.series.begin(), f.series.end(), s.key) == f.series.end()) {
        f.series.insert(std::upper_bound(f.series.begin(), f.series.end(), s.key), s.key);
      }
    }
  }

  Finding first_finding(int64_t step, const std::string& layer,
                        const std::vector<KeySummary>& series, Severity severity,
                        int64_t most) const {
    Finding f;
    f.kind = kind();
    f.severity = severity;
    f.first_step = step;
    std::string counts;
    for (size_t i = 0; i < series.size() && i < kMostSeriesSaid; ++i) {
      counts += (i ? ", " : "") + series[i].key.label() + " " + std::to_string(series[i].count);
    }
    if (series.size() > kMostSeriesSaid) counts += ", ...";
    const auto fewest =
        std::min_element(series.begin(), series.end(),
                         [](const KeySummary& a, const KeySummary& b) { return a.count < b.count; })
            ->count;
    f.evidence = "values per channel at '" + layer + "', step " + std::to_string(step) + ": " +
                 counts + " (" +
                 (fewest == 0 ? std::string("a series with none")
                              : "most/fewest " + figure(static_cast<double>(most) / fewest)) +
                 "); the rule: an error for 0, a warning from 2x, a note below";
    if (severity == Severity::kError) {
      f.why =
          "a copy with no samples contributes nothing and breaks some SyncBatchNorm versions "
          "(a division by its count of 0)";
    } else if (severity == Severity::kWarning) {
      f.why =
          "copies with very different sample counts weigh unequally: the smaller ones' "
          "per-copy statistics and gradients are noisier";
    } else {
      f.why =
          "an uneven split (a batch that does not divide by the copies, or an epoch's short "
          "last batch) makes the copies' statistics unequally noisy";
    }
    f.what_to_do = "make the batch a multiple of the copies" +
                   std::string(facts_.processes > 1 ? " and ranks" : "") +
                   ", or drop each epoch's short last batch (drop_last)";
    return f;
  }

  RunFacts facts_;
  std::array<Sightings, 3> seen_;  // by severity
};

}  // namespace

std::unique_ptr<Rule> make_uneven_copies(const RunFacts& facts) {
  return std::make_unique<UnevenCopies>(facts);
}

}  // namespace replicascope::diagnose::rules
