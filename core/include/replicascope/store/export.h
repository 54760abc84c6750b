// SPDX-License-Identifier: MIT
// A recorded run's statistics as files.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "replicascope/store/run_reader.h"

namespace replicascope::store {

// Tidy CSV, one value per row: step,layer,sync_point,copy,channel,statistic,value (copy as
// SeriesKey::label writes it: "copy 0", "synchronized", "running", "rank 1"). Fields are quoted
// as RFC 4180 says where they need it (a layer named "bn,1", say). Streams: memory does not grow
// with the run.
void write_csv(const RunReader& run, const StatFilter& filter, std::ostream& out);
// write_csv to `path` through write_output.
void write_csv(const RunReader& run, const StatFilter& filter, const std::string& path);

// Every step's summaries as CSV, one row per key: step,layer,sync_point,copy,count,mean,var
// (the means over channels of the mean and of the variance; count -1 where unknown). `layer`
// empty: every layer, in the run's order.
void write_summaries_csv(const RunReader& run, const std::string& layer, std::ostream& out);

// The channels `layer` has in the run (those of its first step that kept per-channel values; 0
// when no step kept any); `layer` empty: the widest layer's.
int64_t layer_channels(const RunReader& run, const std::string& layer);
// Refuses, with a StoreError naming the layer and its channel count, a filter whose channels
// the layer does not have (every layer's, when the filter names none): an export of channels
// that do not exist would be empty, not wrong-looking.
void check_channels(const RunReader& run, const StatFilter& filter);

// A CSV field, quoted and its quotes doubled where it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text);

// Writes `path` with write(out): "-" is standard output; any other path is written atomically
// (write_text_atomically). An error in reading the run (StoreError) is rethrown as it is, not
// as a failure to write.
void write_output(const std::string& path, const std::function<void(std::ostream& out)>& write);

// Refuses, with a std::invalid_argument saying which, outputs that would lose data: an empty
// name, a target that is the run itself or its -wal/-shm file (same file, by inode), and two
// outputs naming one file. `outputs` are (flag, path) pairs such as ("--csv", "o.csv").
void check_outputs(const std::string& run,
                   const std::vector<std::pair<std::string, std::string>>& outputs);

}  // namespace replicascope::store
