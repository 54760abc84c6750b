// SPDX-License-Identifier: MIT
// nonfinite: the first step where the loss or a statistic stopped being finite, and its cause
// told apart where the data allows.
#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "rules.h"

namespace replicascope::diagnose::rules {
namespace {

constexpr double kOverflow = 1e30;  // past it, the step before overflowed (float32 ends at 3.4e38)
constexpr size_t kMostChannels = 16;  // channels named in a finding
constexpr const char* kCheckTheLoss =
    "check the loss's inputs (labels in range, no log of 0) and lower the learning rate";

bool finite(const KeySummary& s) {
  return std::isfinite(s.mean) && std::isfinite(s.var);
}

bool batch_series(const SeriesKey& key) {
  return key.kind != SeriesKey::Kind::kRunning;
}

// A value of the step before that explains a non-finite one: a variance at or below eps, or a
// value past 1e30.
struct Sighting {
  std::string layer;
  SeriesKey key;
  int64_t channel = -1;  // -1: a summary (the mean over channels)
  double value = 0;
  std::string said() const {
    return key.label() + " at '" + layer + "'" +
           (channel >= 0 ? " (channel " + std::to_string(channel) + ")" : "");
  }
};

// The first variance at or below eps (of a series with more than one value per channel) and the
// first value past 1e30 in `layer`, per channel where the step keeps them.
void look_at(const LayerEvidence& layer, std::optional<Sighting>& tiny,
             std::optional<Sighting>& huge) {
  auto see = [&](const SeriesKey& key, int64_t count, int64_t channel, double mean, double var) {
    if (!tiny && batch_series(key) && count > 1 && var <= kEps) {
      tiny = Sighting{layer.layer, key, channel, var};
    }
    if (!huge && (std::abs(mean) > kOverflow || var > kOverflow)) {
      huge = Sighting{layer.layer, key, channel, std::abs(mean) > kOverflow ? mean : var};
    }
  };
  if (!layer.detail) {
    for (const auto& s : layer.summaries) see(s.key, s.count, -1, s.mean, s.var);
    return;
  }
  for (const auto& key : layer.detail->keys()) {
    const auto* mean = layer.detail->values(key, Statistic::kMean);
    const auto* var = layer.detail->values(key, Statistic::kVar);
    if (!mean || !var) continue;
    const int64_t count = layer.detail->count_of(key);
    for (size_t c = 0; c < mean->size() && c < var->size(); ++c) {
      see(key, count, static_cast<int64_t>(c), (*mean)[c], (*var)[c]);
    }
  }
}

class Nonfinite : public Rule {
 public:
  explicit Nonfinite(const RunFacts& facts) : facts_(facts) {}
  const char* kind() const override { return "nonfinite"; }

  void observe(const StepEvidence& step) override {
    const auto first = first_nonfinite_layer(step);
    // The loss is not finite where the writer says so: a NaN loss may be one not given.
    const bool loss = step.nonfinite.rfind("loss", 0) == 0;
    const bool finite_step = first == step.layers.size() && !loss;
    if (finding_) {
      if (!finite_step) finding_->last_step = step.step;
      return;
    }
    if (finite_step) {
      remember(step);
      return;
    }
    finding_ = first_finding(step, first);
  }

  std::vector<Finding> findings() const override {
    return finding_ ? std::vector<Finding>{*finding_} : std::vector<Finding>{};
  }

 private:
  static size_t first_nonfinite_layer(const StepEvidence& step) {
    for (size_t i = 0; i < step.layers.size(); ++i) {
      for (const auto& s : step.layers[i].summaries) {
        if (!finite(s)) return i;
      }
    }
    return step.layers.size();
  }

  void remember(const StepEvidence& step) {
    tiny_.reset();
    huge_.reset();
    for (const auto& layer : step.layers) look_at(layer, tiny_, huge_);
    previous_step_ = step.step;
  }

  Finding first_finding(const StepEvidence& step, size_t first) const {
    Finding f;
    f.kind = kind();
    f.severity = Severity::kError;
    f.first_step = f.last_step = step.step;
    const LayerEvidence* layer = first < step.layers.size() ? &step.layers[first] : nullptr;
    if (layer) {
      f.layer = layer->layer;
      f.sync_point = layer->sync_point;
      f.series = nonfinite_series(*layer);
      f.channels = nonfinite_channels(*layer, f.series);
    }
    const auto [cause, what_to_do] = cause_of(step, first);
    f.evidence = "the first step not finite (" +
                 (step.nonfinite.empty() ? "statistics" : step.nonfinite) +
                 "); the cause: " + cause;
    f.why =
        "a non-finite value spreads to every weight within a step or two: what the run records "
        "after it says nothing";
    f.what_to_do = what_to_do;
    return f;
  }

  // The copies or ranks whose summary is not finite; the other series when none is.
  static std::vector<SeriesKey> nonfinite_series(const LayerEvidence& layer) {
    std::vector<SeriesKey> out, others;
    for (const auto& s : layer.summaries) {
      if (finite(s)) continue;
      const bool copy =
          s.key.kind == SeriesKey::Kind::kCopy || s.key.kind == SeriesKey::Kind::kRank;
      (copy ? out : others).push_back(s.key);
    }
    return out.empty() ? others : out;
  }

  // The channels where those series are not finite, when the step keeps every channel (none
  // named when every channel is).
  static std::vector<int64_t> nonfinite_channels(const LayerEvidence& layer,
                                                 const std::vector<SeriesKey>& series) {
    if (!layer.detail) return {};
    std::vector<int64_t> out;
    size_t channels = 0;
    for (const auto& key : series) {
      const auto* mean = layer.detail->values(key, Statistic::kMean);
      const auto* var = layer.detail->values(key, Statistic::kVar);
      if (!mean || !var) continue;
      channels = std::max(channels, mean->size());
      for (size_t c = 0; c < mean->size() && c < var->size(); ++c) {
        const auto channel = static_cast<int64_t>(c);
        const bool listed = std::find(out.begin(), out.end(), channel) != out.end();
        if (!listed && !(std::isfinite((*mean)[c]) && std::isfinite((*var)[c])))
          out.push_back(channel);
      }
    }
    std::sort(out.begin(), out.end());
    if (out.size() == channels) return {};
    if (out.size() > kMostChannels) out.resize(kMostChannels);
    return out;
  }

  std::pair<std::string, std::string> cause_of(const StepEvidence& step, size_t first) const;

  RunFacts facts_;
  std::optional<Sighting> tiny_, huge_;  // of the step before, when it was finite
  int64_t previous_step_ = 0;
  std::optional<Finding> finding_;
};

// The cause and what to do, the most specific first: the loss alone, a copy of one value per
// channel, the step before's tiny variance or overflow, else where the input went bad.
std::pair<std::string, std::string> Nonfinite::cause_of(const StepEvidence& step,
                                                        size_t first) const {
  const std::string before = "at step " + std::to_string(previous_step_) + ", ";
  if (step.layers.empty()) {  // a session that records no statistics (train without --run)
    return {"the loss (the step records no statistics that could tell more)", kCheckTheLoss};
  }
  if (first == step.layers.size()) {
    return {"the loss first: every statistic of the step was finite", kCheckTheLoss};
  }
  const auto& layer = step.layers[first];
  for (const auto& s : layer.summaries) {
    if (facts_.synchronized || s.key.kind != SeriesKey::Kind::kCopy || s.count != 1) continue;
    return {s.key.label() + " held one value per channel at '" + layer.layer +
                "': its variance is 0 and the unbiased running variance divides by 0",
            "give every copy at least 2 values per channel (a larger batch or fewer copies), or "
            "synchronize the BatchNorm"};
  }
  if (tiny_) {
    return {before + "the variance of " + tiny_->said() + " was " + figure(tiny_->value) +
                ", at or below eps (1e-05): its normalized values were huge",
            "raise the layer's eps, or find why its input is (nearly) constant in a channel"};
  }
  if (huge_) {
    return {before + huge_->said() + " reached " + figure(huge_->value) +
                ", past 1e30: the values overflowed",
            "lower the learning rate or clip the gradients; train in a wider precision"};
  }
  if (first == 0) {
    return {
        "the input of '" + layer.layer +
            "', the first BatchNorm of the step, was already non-finite: the data or the "
            "layers before it",
        "check the data for NaN or infinite values, and the layers before '" + layer.layer + "'"};
  }
  const auto& finite_before = step.layers[first - 1].layer;
  return {"the input of '" + layer.layer + "' was already non-finite while '" + finite_before +
              "' before it was finite: the layers between them",
          "check the layers between '" + finite_before + "' and '" + layer.layer +
              "' (a division, log, exp or square root)"};
}

}  // namespace

std::unique_ptr<Rule> make_nonfinite(const RunFacts& facts) {
  return std::make_unique<Nonfinite>(facts);
}

}  // namespace replicascope::diagnose::rules
