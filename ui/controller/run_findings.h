// SPDX-License-Identifier: GPL-3.0-or-later
// The findings of what the engine thread has open, as the UI gets them (FindingsReport): a live
// session's Diagnosis after each step, a recorded run read through diagnose_run. Called on the
// engine thread only.
#pragma once

#include <QString>

#include <cstdint>

#include "controller/engine_types.h"

namespace replicascope::diagnose {
class Diagnosis;
}  // namespace replicascope::diagnose

namespace replicascope::ui {

// The live session's findings after `steps` steps.
FindingsPtr live_findings(const diagnose::Diagnosis& diagnosis, int64_t steps);
// The recorded run at `path` read through every rule, its `steps` steps; a run that cannot be
// read (a damaged row, a file gone) gives a report with no findings and its error.
FindingsPtr recorded_findings(const QString& path, int64_t steps);

}  // namespace replicascope::ui
