// SPDX-License-Identifier: GPL-3.0-or-later
// How the CLI says findings (diagnose/finding.h): diagnose's report and train's live lines.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "replicascope/diagnose/diagnosis.h"

namespace replicascope::cli {

// "SOURCE: warning [loss-explodes] steps 12-20: EVIDENCE", then indented "why:" and "do:" lines.
void print_finding(std::ostream& out, const diagnose::Finding& finding, const std::string& source);
// The findings as a JSON array of objects, one per finding, and a newline.
void print_findings_json(std::ostream& out, const std::vector<diagnose::Finding>& findings);
// "RUN: not checked (WHY): KIND, ..." for the kinds `facts` say the run cannot be checked for;
// "" when it can be checked for every kind.
std::string not_checked_line(const std::string& source, const diagnose::RunFacts& facts);
// Train's live word: each warning or error `diagnosis` found since the last call, one line on
// standard error (the progress bar's line cleared first on a terminal).
void say_new_findings(diagnose::Diagnosis& diagnosis, const std::string& source);

}  // namespace replicascope::cli
