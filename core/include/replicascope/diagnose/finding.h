// SPDX-License-Identifier: MIT
// A finding: what is wrong in a run, where, since when, the figures that decided it, why it
// matters and what to do (docs/findings.md lists the kinds).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "replicascope/base/records.h"

namespace replicascope::diagnose {

// Errors first when findings are sorted: a higher severity compares greater.
enum class Severity { kNote, kWarning, kError };
const char* severity_name(Severity severity);  // "note", "warning", "error"
// "note", "warning" or "error"; throws std::invalid_argument naming what was given.
Severity parse_severity(const std::string& name);

struct Finding {
  // A stable id: "loss-explodes", "nonfinite", "uneven-copies", "small-per-copy-batch",
  // "copies-see-different-data".
  std::string kind;
  Severity severity = Severity::kWarning;
  std::string layer;              // "" where the finding is not a layer's (loss-explodes)
  int64_t sync_point = 0;         // the layer's call in the step (0: first)
  std::vector<SeriesKey> series;  // the copies or ranks it is about (empty: all / none)
  std::vector<int64_t> channels;  // empty: not channel-specific
  int64_t first_step = 0, last_step = 0;
  std::string evidence;    // the figures that decided it, against the threshold
  std::string why;         // one sentence: why it matters
  std::string what_to_do;  // one sentence: what to do
};

// A kind that a run could not be checked for, and why.
struct NotChecked {
  std::string kind, why;
};

// Where a finding is, for a person: "steps 12-20", "step 7, layer 'features.1' (call 2), copy 1,
// copy 3, channels 0, 5".
std::string finding_where(const Finding& finding);
// The compiler-like line: "SOURCE: warning [loss-explodes] steps 12-20: EVIDENCE".
std::string finding_line(const Finding& finding, const std::string& source);

}  // namespace replicascope::diagnose
