// SPDX-License-Identifier: MIT
// One step as the rules see it, the same for a live session (every step's full LayerStats) and
// for a run read back (every step's summaries, per-channel detail at the kept steps only).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "replicascope/base/records.h"

namespace replicascope::diagnose {

// One sync point of one layer in one step.
struct LayerEvidence {
  std::string layer;
  int64_t sync_point = 0;
  int64_t count = 0;  // values per channel over all copies
  double divergence = 0;
  int64_t worst_channel = 0;
  std::vector<KeySummary> summaries;   // every key's summary (copies, synchronized, running, ranks)
  const LayerStats* detail = nullptr;  // per-channel values when the step keeps them (live: always)
  std::optional<BatchNormSettings> settings;  // the layer's momentum and eps, where recorded
  // Every step's per-channel deviations of the copies or ranks, at the sync points that keep
  // them (deviation_layers; empty elsewhere and in runs without them).
  std::vector<SeriesDeviation> deviations;
};

struct StepEvidence {
  int64_t step = 0, epoch = 0;
  double loss = 0, accuracy = 0;      // NaN where not finite / not given
  std::string nonfinite;              // StepRow::nonfinite / nonfinite_part(record)
  std::vector<LayerEvidence> layers;  // in the step's order (the order the layers ran)
  std::vector<EvalCalls> eval_calls;  // BatchNorm modules that ran in eval mode in the step
};

// A step's own figures without its layers, as a run keeps them: what is not finite reads as NaN.
StepEvidence step_evidence(int64_t step, int64_t epoch, double loss, double accuracy,
                           std::string nonfinite);
// A live step's evidence: summarize() gives the summaries, `record` the detail (it must outlive
// the evidence).
StepEvidence evidence_of(const StepRecord& record);

// The summary of `key` in `layer`, or null.
const KeySummary* summary_of(const LayerEvidence& layer, const SeriesKey& key);

}  // namespace replicascope::diagnose
