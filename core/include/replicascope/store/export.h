// A recorded run's statistics as files.
#pragma once

#include <string>

#include "replicascope/store/run_store.h"

namespace replicascope::store {

// Tidy CSV, one value per row: step,layer,sync_point,copy,channel,statistic,value (copy as
// SeriesKey::label writes it: "copy 0", "synchronized", "running", "rank 1"), written
// atomically (write_atomically).
void write_csv(const RunReader& run, const StatFilter& filter, const std::string& path);

}  // namespace replicascope::store
