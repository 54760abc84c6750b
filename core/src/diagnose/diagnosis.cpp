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
  return out;
}

Diagnosis::Diagnosis(const RunFacts& facts) : facts_(facts), rules_(make_rules(facts)) {}

Diagnosis::~Diagnosis() = default;

void Diagnosis::observe(const StepEvidence& step) {
  for (auto& rule : rules_) rule->observe(step);
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

std::vector<NotChecked> not_checked() {
  const std::string why = "not recorded in this run";
  return {{"rank-buffers-differ", why},
          {"running-stats-lag", why},
          {"frozen-batchnorm", why},
          {"sync-points-disagree", why}};
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
