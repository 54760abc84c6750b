// SPDX-License-Identifier: MIT
#include "replicascope/engine/step_failure.h"

namespace replicascope::engine {

store::RunEvent sync_point_event(const sync::SyncError& error, int64_t step) {
  store::RunEvent event;
  event.step = step;
  event.kind = "sync-points-disagree";
  event.layer = error.layer();
  event.sync_point = error.sequence();
  if (error.copy_id() >= 0) event.series = SeriesKey::copy(error.copy_id());
  event.message = error.what();
  return event;
}

}  // namespace replicascope::engine
