// SPDX-License-Identifier: MIT
// What a failed step leaves in the run: copies that did not meet at a sync point (one called a
// synchronized layer more often than another, one left the step early, one never came) are a
// "sync-points-disagree" event (store::RunEvent) that the findings read; other failures (a
// wrong input, memory) leave none.
#pragma once

#include <cstdint>

#include "replicascope/store/run_rows.h"
#include "replicascope/sync/sync_error.h"

namespace replicascope::engine {

// The event of `error` at `step`: the layer, its call, the copy the failure names (none when no
// single copy did) and the failure's own words.
store::RunEvent sync_point_event(const sync::SyncError& error, int64_t step);

}  // namespace replicascope::engine
