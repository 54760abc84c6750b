// SPDX-License-Identifier: MIT
// diagnose_run: a recorded run read a step at a time through the rules.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "replicascope/diagnose/diagnosis.h"
#include "replicascope/store/run_reader.h"

namespace replicascope::diagnose {
namespace {

// A whole number of the metadata, or `fallback` where it has none that reads.
int64_t meta_number(const store::Metadata& meta, const char* key, int64_t fallback) {
  const auto it = meta.find(key);
  if (it == meta.end() || it->second.empty()) return fallback;
  char* end = nullptr;
  const long long value = std::strtoll(it->second.c_str(), &end, 10);
  return *end == '\0' && value > 0 ? value : fallback;
}

// Copies per process from the devices the run names: "cpu", "cpu:4", "cuda:0,1".
int copies_of(const std::string& devices) {
  if (devices.rfind("cpu:", 0) == 0) {
    char* end = nullptr;
    const long copies = std::strtol(devices.c_str() + 4, &end, 10);
    return *end == '\0' && copies > 0 && copies < (1 << 20) ? static_cast<int>(copies) : 1;
  }
  return 1 + static_cast<int>(std::count(devices.begin(), devices.end(), ','));
}

}  // namespace

RunFacts run_facts(const store::RunReader& run) {
  const auto meta = run.metadata();
  RunFacts facts;
  facts.synchronized = store::trained_synchronized(meta);
  facts.copies = copies_of(meta.count("devices") ? meta.at("devices") : "");
  facts.processes = static_cast<int>(std::min<int64_t>(meta_number(meta, "processes", 1), 1 << 20));
  facts.batch = meta_number(meta, "batch", 0);
  facts.source = run.path();
  facts.records_run_facts = run.records_run_facts();
  // The Python recorder says who wrote the run; it records sync-point events (hangs) when its
  // hang explainer was on, which it says in hang_timeout (from 0.2 on).
  const bool python =
      meta.count("writer") && meta.at("writer").rfind("replicascope-python", 0) == 0;
  const bool watched = meta.count("hang_timeout") && meta.at("hang_timeout") != "off";
  facts.records_sync_events = facts.records_run_facts && (!python || watched);
  facts.records_rank_running = facts.processes == 1 || (facts.records_run_facts && python);
  facts.schema_version = run.schema_version();
  return facts;
}

namespace {

// The vector a value of `row` goes to in `stats`, the series' count taken from the summaries.
std::vector<double>& values_of(LayerStats& stats, const store::StatRow& row,
                               const LayerEvidence& evidence) {
  const bool mean = row.statistic == Statistic::kMean;
  auto record_of = [&](std::vector<CopyRecord>& records) -> CopyRecord& {
    for (auto& r : records) {
      if (r.copy == row.key.index) return r;
    }
    const auto* summary = summary_of(evidence, row.key);
    records.push_back({row.key.index, summary ? summary->count : -1, {}, {}});
    return records.back();
  };
  switch (row.key.kind) {
    case SeriesKey::Kind::kRunning:
      return mean ? stats.running_mean : stats.running_var;
    case SeriesKey::Kind::kSynchronized:
      return mean ? stats.mean : stats.var;
    default: {  // a copy's, a rank's, another rank's running statistics
      auto& record = record_of(stats.records_of(row.key.kind));
      return mean ? record.mean : record.var;
    }
  }
}

// A kept step's per-channel values, one LayerStats per sync point of `step` (its evidence
// points into `detail`, which the caller keeps until the rules have seen the step).
void read_detail(const store::RunReader& run, StepEvidence& step, std::vector<LayerStats>& detail) {
  detail.assign(step.layers.size(), {});
  store::StatFilter filter;
  filter.first_step = filter.last_step = step.step;
  auto is_at = [&](size_t at, const store::StatRow& row) {
    return step.layers[at].layer == row.layer && step.layers[at].sync_point == row.sync_point;
  };
  size_t at = 0;  // the sync point of the rows coming in (in the step's order, mostly)
  run.for_each_stat(filter, [&](const store::StatRow& row) {
    if (at >= step.layers.size() || !is_at(at, row)) {
      at = 0;
      while (at < step.layers.size() && !is_at(at, row)) ++at;
      if (at == step.layers.size()) return;  // a sync point without a sync_points row
    }
    if (detail[at].layer.empty()) {
      detail[at].layer = row.layer;
      detail[at].sync_point = row.sync_point;
      detail[at].count = step.layers[at].count;
    }
    values_of(detail[at], row, step.layers[at]).push_back(row.value);
  });
  for (size_t i = 0; i < step.layers.size(); ++i) {
    if (!detail[i].layer.empty()) step.layers[i].detail = &detail[i];
  }
}

}  // namespace

std::vector<Finding> diagnose_run(const store::RunReader& run) {
  Diagnosis diagnosis(run_facts(run));
  const auto steps = run.steps();
  const auto settings = run.layer_settings();
  const auto eval_calls = run.eval_calls();
  // A step's own figures, with the modules that ran in eval mode in it.
  auto evidence_of_row = [&](const store::StepRow& row) {
    auto out = step_evidence(row.step, row.epoch, row.loss, row.accuracy, row.nonfinite);
    const auto calls = eval_calls.find(row.step);
    if (calls != eval_calls.end()) out.eval_calls = calls->second;
    return out;
  };
  size_t next = 0;  // the next of `steps` to give the rules
  StepEvidence step;
  bool gathering = false, kept = false;  // a step is being gathered; it keeps its detail
  std::vector<LayerStats> detail;
  auto give = [&] {
    if (kept) read_detail(run, step, detail);
    for (auto& [layer, series] : run.deviations_at(step.step)) {
      for (auto& evidence : step.layers) {
        if (evidence.layer == layer && evidence.sync_point == 0) evidence.deviations = series;
      }
    }
    diagnosis.observe(step);
    gathering = false;
  };
  run.for_each_sync_point([&](const store::SyncPointRow& row) {
    if (gathering && row.step != step.step) give();
    if (!gathering) {
      // Steps that recorded no layer come in their place.
      while (next < steps.size() && steps[next].step < row.step)
        diagnosis.observe(evidence_of_row(steps[next++]));
      const bool listed = next < steps.size() && steps[next].step == row.step;
      // (A sync point of a step the steps table lacks: its figures are not given.)
      step = listed ? evidence_of_row(steps[next]) : step_evidence(row.step, 0, NAN, NAN, "");
      kept = listed && steps[next++].detail;
      gathering = true;
    }
    const auto layer_settings = settings.find(row.layer);
    step.layers.push_back({row.layer,
                           row.sync_point,
                           row.count,
                           row.divergence,
                           row.worst_channel,
                           row.summaries,
                           nullptr,
                           layer_settings == settings.end()
                               ? std::nullopt
                               : std::optional<BatchNormSettings>(layer_settings->second),
                           {}});
  });
  if (gathering) give();
  while (next < steps.size()) diagnosis.observe(evidence_of_row(steps[next++]));
  for (const auto& event : run.events()) diagnosis.observe_event(event);
  diagnosis.finish();
  return diagnosis.findings();
}

}  // namespace replicascope::diagnose
