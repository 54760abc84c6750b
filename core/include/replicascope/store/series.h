// A recorded statistic as lines over steps, for plots.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "replicascope/store/run_store.h"

namespace replicascope::store {

struct Series {
  int copy = 0;  // 0, 1, ..., kSynchronizedCopy or kRunningCopy
  int64_t channel = 0;
  std::vector<double> steps, values;
  std::string name() const;  // "copy 0, channel 3", "synchronized, channel 3", ...
};

// One series per copy and channel of `statistic` ("mean" or "var") at `layer`'s sync point
// `sync_point`, channels first_channel..last_channel: the copies first, then the synchronized
// and the running ones. Throws StoreError for an unknown layer or statistic.
std::vector<Series> statistic_series(const RunReader& run, const std::string& layer,
                                     const std::string& statistic, int64_t first_channel,
                                     int64_t last_channel, int64_t sync_point = 0);

}  // namespace replicascope::store
