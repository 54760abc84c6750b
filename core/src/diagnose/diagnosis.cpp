// SPDX-License-Identifier: MIT
#include "replicascope/diagnose/diagnosis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "rules.h"

namespace replicascope::diagnose {

std::vector<std::unique_ptr<Rule>> make_rules(const RunFacts& facts) {
  std::vector<std::unique_ptr<Rule>> out;
  out.push_back(rules::make_nonfinite(facts));
  out.push_back(rules::make_loss_explodes());
  out.push_back(rules::make_uneven_copies(facts));
  out.push_back(rules::make_small_per_copy_batch(facts));
  out.push_back(rules::make_copies_see_different_data(facts));
  if (facts.records_run_facts) {
    out.push_back(rules::make_running_stats_lag(facts));
    out.push_back(rules::make_frozen_batchnorm());
  }
  if (facts.records_sync_events) out.push_back(rules::make_sync_points_disagree());
  if (facts.records_rank_running && facts.processes > 1)
    out.push_back(rules::make_rank_buffers_differ(facts));
  return out;
}

Diagnosis::Diagnosis(const RunFacts& facts) : facts_(facts), rules_(make_rules(facts)) {}

Diagnosis::~Diagnosis() = default;

void Diagnosis::observe(const StepEvidence& step) {
  for (auto& rule : rules_) rule->observe(step);
}

void Diagnosis::observe_event(const store::RunEvent& event) {
  for (auto& rule : rules_) rule->observe_event(event);
}

void Diagnosis::finish() {
  for (auto& rule : rules_) rule->finish();
}

std::vector<Finding> Diagnosis::findings() const {
  std::vector<Finding> out;
  for (const auto& rule : rules_) {
    auto found = rule->findings();
    out.insert(out.end(), std::make_move_iterator(found.begin()),
               std::make_move_iterator(found.end()));
  }
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    return a.first_step < b.first_step;
  });
  return out;
}

std::vector<Finding> Diagnosis::new_findings() {
  std::vector<Finding> out;
  for (auto& f : findings()) {
    if (reported_.insert({f.kind, f.layer, f.sync_point, f.series, f.severity}).second)
      out.push_back(std::move(f));
  }
  return out;
}

std::vector<NotChecked> not_checked(const RunFacts& facts) {
  // A run older than version 6: what that version would have recorded.
  auto before_6 = [&](const std::string& since) {
    return "not recorded in this run (schema version " + std::to_string(facts.schema_version) +
           "; " + since + ")";
  };
  const bool v6 = facts.records_run_facts;
  std::vector<NotChecked> out;
  if (!facts.records_rank_running) {
    out.push_back({"rank-buffers-differ",
                   v6 ? "the C++ engine records rank 0's running statistics only"
                      : before_6("the Python recorder records every rank's from version 6 on")});
  }
  if (!v6) {
    const auto why = before_6("version 6 records momentum, eps and eval-mode calls");
    out.push_back({"running-stats-lag", why});
    out.push_back({"frozen-batchnorm", why});
  }
  if (!facts.records_sync_events) {
    out.push_back({"sync-points-disagree",
                   v6 ? "the Python recorder's hang explainer was off (hang_timeout=None), "
                        "or the recorder predates it (0.2)"
                      : before_6("the C++ engine records failed sync points from version 6 on")});
  }
  return out;
}

namespace rules {

std::string figure(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3g", value);
  return text;
}

std::string signed_figure(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%+.3g", value);
  return text;
}

std::string step_range(int64_t first, int64_t last) {
  return first == last ? "step " + std::to_string(first)
                       : "steps " + std::to_string(first) + "-" + std::to_string(last);
}

}  // namespace rules
}  // namespace replicascope::diagnose
