// SPDX-License-Identifier: MIT
// Planted steps for the findings' rules (tests/test_diagnose*.cpp): summaries as a run keeps
// them, and live records with every channel.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "replicascope/diagnose/diagnosis.h"

namespace replicascope::testing {

inline constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

inline KeySummary summary(SeriesKey key, int64_t count, double mean, double var) {
  KeySummary s;
  s.key = key;
  s.count = count;
  s.mean = mean;
  s.var = var;
  return s;
}

// One sync point with `summaries` (no per-channel detail, as a step a run does not keep).
inline diagnose::LayerEvidence planted_layer(const std::string& name,
                                             std::vector<KeySummary> summaries,
                                             int64_t sync_point = 0) {
  diagnose::LayerEvidence layer;
  layer.layer = name;
  layer.sync_point = sync_point;
  for (const auto& s : summaries) {
    if (s.key == SeriesKey::synchronized()) layer.count = s.count;
  }
  layer.summaries = std::move(summaries);
  return layer;
}

inline diagnose::StepEvidence planted_step(int64_t step, double loss,
                                           std::vector<diagnose::LayerEvidence> layers = {}) {
  diagnose::StepEvidence out;
  out.step = step;
  out.loss = loss;
  out.accuracy = 0.5;
  if (!std::isfinite(loss)) out.nonfinite = "loss";
  out.layers = std::move(layers);
  return out;
}

// A healthy layer of two copies of `count` values per channel: means 0, variances 1.
inline diagnose::LayerEvidence healthy_layer(const std::string& name, int64_t count = 64) {
  return planted_layer(
      name, {summary(SeriesKey::copy(0), count, 0, 1), summary(SeriesKey::copy(1), count, 0, 1),
             summary(SeriesKey::synchronized(), 2 * count, 0, 1)});
}

inline std::vector<diagnose::Finding> of_kind(const std::vector<diagnose::Finding>& findings,
                                              const std::string& kind) {
  std::vector<diagnose::Finding> out;
  for (const auto& f : findings) {
    if (f.kind == kind) out.push_back(f);
  }
  return out;
}

inline diagnose::RunFacts facts(bool synchronized, int copies = 2, int processes = 1,
                                int64_t batch = 16) {
  diagnose::RunFacts f;
  f.synchronized = synchronized;
  f.copies = copies;
  f.processes = processes;
  f.batch = batch;
  f.source = "test";
  return f;
}

}  // namespace replicascope::testing
