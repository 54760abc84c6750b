// SPDX-License-Identifier: MIT
#include "replicascope/diagnose/finding.h"

#include <stdexcept>

#include "rules.h"

namespace replicascope::diagnose {

const char* severity_name(Severity severity) {
  switch (severity) {
    case Severity::kNote:
      return "note";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "?";
}

Severity parse_severity(const std::string& name) {
  for (const auto severity : {Severity::kNote, Severity::kWarning, Severity::kError}) {
    if (name == severity_name(severity)) return severity;
  }
  throw std::invalid_argument("expected a severity of note, warning or error, got '" + name + "'");
}

std::string finding_where(const Finding& finding) {
  std::string out = rules::step_range(finding.first_step, finding.last_step);
  if (!finding.layer.empty()) {
    out += ", layer '" + finding.layer + "'";
    if (finding.sync_point > 0) out += " (call " + std::to_string(finding.sync_point + 1) + ")";
  }
  for (const auto& key : finding.series) out += ", " + key.label();
  for (size_t i = 0; i < finding.channels.size(); ++i) {
    out += (i == 0 ? (finding.channels.size() == 1 ? ", channel " : ", channels ") : ", ") +
           std::to_string(finding.channels[i]);
  }
  return out;
}

std::string finding_line(const Finding& finding, const std::string& source) {
  return source + ": " + severity_name(finding.severity) + " [" + finding.kind + "] " +
         finding_where(finding) + ": " + finding.evidence;
}

}  // namespace replicascope::diagnose
