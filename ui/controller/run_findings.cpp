// SPDX-License-Identifier: GPL-3.0-or-later
#include "controller/run_findings.h"

#include "replicascope/base/describe_error.h"
#include "replicascope/diagnose/diagnosis.h"
#include "replicascope/store/run_reader.h"

namespace replicascope::ui {

FindingsPtr live_findings(const diagnose::Diagnosis& diagnosis, int64_t steps) {
  auto report = std::make_shared<FindingsReport>();
  report->live = true;
  report->checked = true;
  report->steps = steps;
  report->findings = diagnosis.findings();
  report->not_checked = diagnose::not_checked(diagnosis.facts());
  return report;
}

FindingsPtr recorded_findings(const QString& path, int64_t steps) {
  auto report = std::make_shared<FindingsReport>();
  report->live = false;
  report->checked = true;
  report->steps = steps;
  try {
    // A connection of its own, as a followed run's reads have: it sees the rows written since.
    const store::RunReader run(path.toStdString());
    report->findings = diagnose::diagnose_run(run);
    report->not_checked = diagnose::not_checked(diagnose::run_facts(run));
  } catch (...) {
    report->error = QString::fromStdString(describe(std::current_exception()));
  }
  return report;
}

}  // namespace replicascope::ui
