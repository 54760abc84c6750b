// SPDX-License-Identifier: MIT
// running-stats-lag: at the end of a run (or of what is recorded so far), running statistics far
// from the trend of the recent batch statistics: what eval normalizes with is not what training
// normalized with lately.
#include <algorithm>
#include <cmath>
#include <deque>
#include <map>

#include "replicascope/diagnose/statistics.h"
#include "rules.h"

namespace replicascope::diagnose::rules {
namespace {

constexpr size_t kWindow = 50;         // steps the trend is fitted over
constexpr double kLagAlpha = 0.01;     // family-wise, two-sided, Bonferroni over the tests
constexpr double kMeanEffect = 0.5;    // |running - trend| in sigmas of the batch
constexpr double kScaleEffect = 0.25;  // |sqrt(running var / trend var) - 1|
constexpr double kSettlingCalls = 3;   // judged after 3 / momentum calls

// One layer's batch statistics over the last steps and its running statistics after the last.
struct LayerTrack {
  int64_t sync_point = 0;  // the last call in the last step (what the running values follow)
  BatchNormSettings settings;
  struct Point {
    int64_t step;
    double mean, var;  // the batch's, averaged over the step's calls; var unbiased
  };
  std::deque<Point> window;
  int64_t steps = 0, calls_last_step = 0;
  double running_mean = NAN, running_var = NAN;
};

// A line fitted to (step, value): its value at the last step, the residuals' standard deviation
// and the variance factor of that value (1/n + (T - mean t)^2 / Sxx).
struct Trend {
  double at_end = NAN, sd = NAN, factor = NAN;
};

template <typename Value>
Trend fit(const std::deque<LayerTrack::Point>& points, Value value) {
  const double n = static_cast<double>(points.size());
  double mean_t = 0, mean_y = 0;
  for (const auto& p : points) mean_t += p.step / n, mean_y += value(p) / n;
  double sxx = 0, sxy = 0;
  for (const auto& p : points) {
    sxx += (p.step - mean_t) * (p.step - mean_t);
    sxy += (p.step - mean_t) * (value(p) - mean_y);
  }
  const double slope = sxx > 0 ? sxy / sxx : 0;
  double sse = 0;
  for (const auto& p : points) {
    const double r = value(p) - mean_y - slope * (p.step - mean_t);
    sse += r * r;
  }
  const double end = static_cast<double>(points.back().step) - mean_t;
  return {mean_y + slope * end, std::sqrt(sse / (n - 2)), 1 / n + (sxx > 0 ? end * end / sxx : 0)};
}

class RunningStatsLag : public Rule {
 public:
  explicit RunningStatsLag(const RunFacts& facts) : facts_(facts) {}
  const char* kind() const override { return "running-stats-lag"; }

  void observe(const StepEvidence& step) override {
    std::map<std::string, std::pair<double, double>> sums;  // this step's batch mean, var sums
    for (const auto& layer : step.layers) {
      const auto* running = summary_of(layer, SeriesKey::running());
      const auto* batch =
          summary_of(layer, facts_.synchronized ? SeriesKey::synchronized() : SeriesKey::copy(0));
      if (!running || !batch || batch->count < 2 || !layer.settings) continue;
      auto& track = tracks_[layer.layer];
      if (sums.find(layer.layer) == sums.end()) track.calls_last_step = 0;
      auto& sum = sums[layer.layer];
      const double n = static_cast<double>(batch->count);
      sum.first += batch->mean, sum.second += batch->var * n / (n - 1);
      ++track.calls_last_step;
      track.sync_point = layer.sync_point;
      track.settings = *layer.settings;
      track.running_mean = running->mean, track.running_var = running->var;
    }
    for (const auto& [name, sum] : sums) {
      auto& track = tracks_[name];
      const double calls = static_cast<double>(track.calls_last_step);
      track.window.push_back({step.step, sum.first / calls, sum.second / calls});
      if (track.window.size() > kWindow) track.window.pop_front();
      ++track.steps;
    }
  }

  std::vector<Finding> findings() const override {
    size_t judged = 0;
    for (const auto& entry : tracks_) judged += settled(entry.second);
    // Two tests per layer judged (the mean, the variance), two-sided.
    const size_t count = 2 * std::max<size_t>(judged, 1);
    const double tests = static_cast<double>(count);
    auto cached = critical_.find(count);  // a live session asks every step
    if (cached == critical_.end())
      cached =
          critical_.emplace(count, student_t_quantile(1 - kLagAlpha / (2 * tests), kWindow - 2))
              .first;
    const double critical = cached->second;
    std::vector<Finding> out;
    for (const auto& [name, track] : tracks_) {
      if (settled(track)) judge(name, track, critical, tests, out);
    }
    return out;
  }

 private:
  static bool settled(const LayerTrack& track) {
    if (track.window.size() < kWindow || !std::isfinite(track.running_mean)) return false;
    const auto m = track.settings.momentum;
    if (!m) return true;  // a cumulative mean never settles: judged from a full window on
    return *m > 0 &&
           static_cast<double>(track.steps * track.calls_last_step) >= kSettlingCalls / *m;
  }

  // The variance of the running value's own noise, in units of the per-step batch value's
  // variance: an exponential moving average over calls of noise k times a step's (k calls) keeps
  // k m / (2 - m) of it; a cumulative mean 1 / steps.
  static double running_noise(const LayerTrack& track) {
    const auto m = track.settings.momentum;
    const double k = static_cast<double>(track.calls_last_step);
    if (!m) return 1 / static_cast<double>(track.steps);
    return k * *m / (2 - *m);
  }

  void judge(const std::string& name, const LayerTrack& track, double critical, double tests,
             std::vector<Finding>& out) const {
    const auto& w = track.window;
    const Trend mean = fit(w, [](const LayerTrack::Point& p) { return p.mean; });
    const Trend var = fit(w, [](const LayerTrack::Point& p) { return p.var; });
    const double eps = track.settings.eps;
    const double sigma = std::sqrt(std::max(var.at_end, 0.0) + eps);
    const double noise = running_noise(track);
    const double z_mean =
        (track.running_mean - mean.at_end) / (mean.sd * std::sqrt(noise + mean.factor));
    const double z_var =
        (track.running_var - var.at_end) / (var.sd * std::sqrt(noise + var.factor));
    const double mean_off = (track.running_mean - mean.at_end) / sigma;
    const double scale_off =
        std::sqrt((std::max(track.running_var, 0.0) + eps) / (sigma * sigma)) - 1;
    const bool mean_lags = std::fabs(z_mean) > critical && std::fabs(mean_off) >= kMeanEffect;
    const bool scale_lags = std::fabs(z_var) > critical && std::fabs(scale_off) >= kScaleEffect;
    if (!mean_lags && !scale_lags) return;
    Finding f;
    f.kind = kind();
    f.severity = Severity::kWarning;
    f.layer = name;
    f.sync_point = track.sync_point;
    f.first_step = w.front().step;
    f.last_step = w.back().step;
    const auto m = track.settings.momentum;
    f.evidence =
        "at step " + std::to_string(w.back().step) + " the running mean is " +
        signed_figure(mean_off) + " sigma off the trend of the batch means (z " + figure(z_mean) +
        ") and the running variance's scale " + signed_figure(scale_off * 100) + "% (z " +
        figure(z_var) + "); the trend: a line " + "over steps " + std::to_string(w.front().step) +
        "-" + std::to_string(w.back().step) + " (means over channels; momentum " +
        (m ? figure(*m) : "None, a cumulative mean") + ", " +
        std::to_string(track.calls_last_step) + " call(s) a step); the rule: |z| > " +
        figure(critical) + " (t, " + std::to_string(kWindow - 2) + " df, alpha 0.01 over " +
        figure(tests) + " tests) and an effect of 0.5 sigma or 25% of the scale";
    f.why =
        "eval and inference normalize with the running statistics: far from what the layer "
        "saw in training lately, the model evaluates worse than it trains";
    f.what_to_do = m ? "raise the momentum, or recompute the running statistics after training "
                       "(a pass over training data in train mode without updates)"
                     : "set a momentum (0.1) instead of a cumulative mean, or recompute the "
                       "running statistics after training over recent data";
    out.push_back(std::move(f));
  }

  RunFacts facts_;
  std::map<std::string, LayerTrack> tracks_;
  mutable std::map<size_t, double> critical_;  // by the number of tests
};

}  // namespace

std::unique_ptr<Rule> make_running_stats_lag(const RunFacts& facts) {
  return std::make_unique<RunningStatsLag>(facts);
}

}  // namespace replicascope::diagnose::rules
