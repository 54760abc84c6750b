// SPDX-License-Identifier: MIT
// copies-see-different-data: copies (or ranks) whose data are not drawn from one distribution,
// found by the persistence of their standardized deviation from the whole batch: over channels
// (from the summaries), and per channel where the step keeps the deviations (channels that
// shift apart cancel in the mean over channels).
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "replicascope/diagnose/statistics.h"
#include "rules.h"

namespace replicascope::diagnose::rules {
namespace {

constexpr int64_t kStepsPerTest = 16;  // steps per test: Student t with 15 degrees of freedom
constexpr double kAlpha = 0.01;        // family-wise, two-sided, Bonferroni over every test so far
constexpr double kEffect = 0.1;        // |mean d| worth saying, in sigmas of the whole batch
constexpr double kVarEps = 1e-5;       // as the divergence's

// One window's test of one series at one layer.
struct WindowTest {
  int64_t first_step = 0, last_step = 0;
  double mean = 0, t = 0;
  bool passed = false;
};

// One series at one layer, over channels or at one channel: the running sums of the window in
// progress, the last window's test and the finding, once two consecutive windows passed.
struct Track {
  SeriesKey key;
  std::string layer;
  int64_t channel = -1;    // -1: d, the deviation over channels
  size_t layer_order = 0;  // the layer's place in the step's order, for sorting
  RunningMoments window;   // of d over the window in progress
  WindowTest last;
  std::optional<Finding> finding;
};

class CopiesSeeDifferentData : public Rule {
 public:
  explicit CopiesSeeDifferentData(const RunFacts& facts) : facts_(facts) {}
  const char* kind() const override { return "copies-see-different-data"; }

  void observe(const StepEvidence& step) override {
    if (window_first_ == 0) window_first_ = step.step;
    size_t order = 0;
    for (const auto& layer : step.layers) {
      if (layer.sync_point != 0) continue;           // every layer's first call
      if (!facts_.synchronized && order > 0) break;  // deeper per-copy inputs are not alike
      add(layer, order++);
    }
    if (++steps_in_window_ == kStepsPerTest) close_window(step.step);
  }

  std::vector<Finding> findings() const override;

 private:
  void add(const LayerEvidence& layer, size_t order) {
    const auto* whole = summary_of(layer, SeriesKey::synchronized());
    if (!whole) return;
    const auto kind = facts_.processes > 1 ? SeriesKey::Kind::kRank : SeriesKey::Kind::kCopy;
    for (const auto& s : layer.summaries) {
      if (s.key.kind != kind) continue;
      const double d = (s.mean - whole->mean) / std::sqrt(whole->var + kVarEps);
      if (!std::isfinite(d)) continue;  // the window falls short of 16 and is not tested
      track_of(s.key, layer.layer, -1, order).window.add(d);
    }
    for (const auto& series : layer.deviations) {
      if (series.key.kind != kind) continue;
      for (size_t c = 0; c < series.u.size(); ++c) {
        if (!std::isfinite(series.u[c])) continue;
        track_of(series.key, layer.layer, static_cast<int64_t>(c), order).window.add(series.u[c]);
      }
    }
  }

  Track& track_of(const SeriesKey& key, const std::string& layer, int64_t channel, size_t order) {
    const auto [at, added] = track_index_.try_emplace({layer, key, channel}, tracks_.size());
    if (added) {
      Track track;
      track.key = key;
      track.layer = layer;
      track.channel = channel;
      track.layer_order = order;
      tracks_.push_back(std::move(track));
    }
    return tracks_[at->second];
  }

  void close_window(int64_t last_step) {
    const int64_t first_step = window_first_;
    window_first_ = 0;
    steps_in_window_ = 0;
    if (tracks_.empty()) return;  // nothing to test: no copies, or no layers recorded
    ++windows_;
    tests_ = static_cast<int64_t>(tracks_.size()) * windows_;
    threshold_ =
        student_t_quantile(1 - kAlpha / (2.0 * static_cast<double>(tests_)), kStepsPerTest - 1);
    for (auto& track : tracks_) {
      WindowTest test;
      test.first_step = first_step;
      test.last_step = last_step;
      if (track.window.n == kStepsPerTest) {
        test.mean = track.window.mean;
        const double se = track.window.sd() / std::sqrt(static_cast<double>(kStepsPerTest));
        test.t = se > 0 ? test.mean / se : test.mean == 0 ? 0 : INFINITY;
        test.passed = std::abs(test.t) > threshold_ && std::abs(test.mean) >= kEffect;
      }
      if (test.passed && track.last.passed) grow(track, test);
      track.last = test;
      track.window = {};
    }
  }

  void grow(Track& track, const WindowTest& test) {
    if (!track.finding) {
      Finding f;
      f.kind = kind();
      f.severity = Severity::kWarning;
      f.layer = track.layer;
      f.series = {track.key};
      if (track.channel >= 0) f.channels = {track.channel};
      f.first_step = test.last_step;
      f.why =
          "the copies see data from different distributions (class-sorted shards, no "
          "shuffling across ranks, per-rank augmentation): their statistics, running "
          "statistics and gradients are biased per copy";
      f.what_to_do =
          "shuffle across ranks (DistributedSampler with shuffle=True and set_epoch "
          "every epoch), and check how the data are sharded and augmented per rank";
      track.finding = f;
    }
    track.finding->last_step = test.last_step;
    const std::string at = track.channel < 0 ? "" : ", channel " + std::to_string(track.channel);
    const std::string what = track.channel < 0 ? "mean d " : "mean u ";
    track.finding->evidence =
        track.key.label() + " at '" + track.layer + "'" + at + ": " + what +
        signed_figure(test.mean) + ", t " + signed_figure(test.t) + " over " +
        step_range(test.first_step, test.last_step) + ", after " + signed_figure(track.last.mean) +
        ", t " + signed_figure(track.last.t) + " over " +
        step_range(track.last.first_step, track.last.last_step) + "; the rule: |t| > " +
        figure(threshold_) + " (Student t, 15 df, two-sided alpha 0.01, " + "Bonferroni over " +
        std::to_string(tests_) + " tests) and |mean| >= 0.1 in two " +
        "consecutive windows of 16 steps, of u = (copy mean - whole batch mean) / sqrt(whole " +
        "batch var + 1e-5) per channel, and of d, the same over channels";
  }

  RunFacts facts_;
  std::vector<Track> tracks_;
  std::map<std::tuple<std::string, SeriesKey, int64_t>, size_t> track_index_;  // into tracks_
  int64_t window_first_ = 0, steps_in_window_ = 0, windows_ = 0, tests_ = 0;
  double threshold_ = 0;
};

// One finding per series: its first layer to pass (the earliest, then in the step's order), with
// the count of its layers that passed.
std::vector<Finding> CopiesSeeDifferentData::findings() const {
  std::vector<const Track*> found;
  for (const auto& t : tracks_) {
    if (t.finding) found.push_back(&t);
  }
  std::stable_sort(found.begin(), found.end(), [](const Track* a, const Track* b) {
    if (a->key != b->key) return a->key < b->key;
    if (a->finding->first_step != b->finding->first_step)
      return a->finding->first_step < b->finding->first_step;
    return std::tie(a->layer_order, a->channel) < std::tie(b->layer_order, b->channel);
  });
  std::vector<Finding> out;
  std::set<std::string> layers;
  int64_t channels = 0;
  for (size_t i = 0; i < found.size(); ++i) {
    if (i == 0 || found[i]->key != found[i - 1]->key) {
      out.push_back(*found[i]->finding);
      layers.clear();
      channels = 0;
    }
    out.back().last_step = std::max(out.back().last_step, found[i]->finding->last_step);
    layers.insert(found[i]->layer);
    channels += found[i]->channel >= 0;
    if (i + 1 < found.size() && found[i + 1]->key == found[i]->key) continue;
    if (layers.size() > 1 || channels > 1) {
      const auto count = [](size_t n, const char* what) {
        return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
      };
      out.back().evidence +=
          "; " + count(layers.size(), "layer") +
          (channels ? " and " + count(static_cast<size_t>(channels), "channel") : "") + " in all";
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<Rule> make_copies_see_different_data(const RunFacts& facts) {
  return std::make_unique<CopiesSeeDifferentData>(facts);
}

}  // namespace replicascope::diagnose::rules
