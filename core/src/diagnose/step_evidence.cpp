// SPDX-License-Identifier: MIT
#include "replicascope/diagnose/step_evidence.h"

#include <cmath>
#include <limits>
#include <utility>

namespace replicascope::diagnose {

StepEvidence step_evidence(int64_t step, int64_t epoch, double loss, double accuracy,
                           std::string nonfinite) {
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  StepEvidence out;
  out.step = step;
  out.epoch = epoch;
  out.loss = std::isfinite(loss) ? loss : kNan;
  out.accuracy = std::isfinite(accuracy) ? accuracy : kNan;
  out.nonfinite = std::move(nonfinite);
  return out;
}

StepEvidence evidence_of(const StepRecord& record) {
  auto out = step_evidence(record.step, record.epoch, record.loss, record.accuracy,
                           nonfinite_part(record));
  out.layers.reserve(record.layers.size());
  for (const auto& layer : record.layers) {
    LayerEvidence evidence;
    evidence.layer = layer.layer;
    evidence.sync_point = layer.sync_point;
    evidence.count = layer.count;
    evidence.divergence = layer.divergence;
    evidence.worst_channel = layer.worst_channel;
    evidence.summaries = summarize(layer);
    evidence.detail = &layer;
    evidence.settings = layer.settings;
    out.layers.push_back(std::move(evidence));
  }
  // Every step's deviations, of the sync points a run keeps them for: live as recorded.
  for (const size_t at : deviation_layers(record))
    out.layers[at].deviations = deviations(record.layers[at]);
  out.eval_calls = record.eval_calls;
  return out;
}

const KeySummary* summary_of(const LayerEvidence& layer, const SeriesKey& key) {
  for (const auto& summary : layer.summaries) {
    if (summary.key == key) return &summary;
  }
  return nullptr;
}

}  // namespace replicascope::diagnose
