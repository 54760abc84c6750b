// SPDX-License-Identifier: MIT
// A layer's statistic as lines over steps, one per key (copy, synchronized, running, rank) and
// channel, for plots: built the same way from a run file's rows and from live steps.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "replicascope/base/records.h"
#include "replicascope/store/run_reader.h"

namespace replicascope::store {

struct Series {
  SeriesKey key;
  int64_t channel = 0;  // kOverChannels: the mean over channels
  std::vector<double> steps, values;
  std::string name() const;  // "copy 0, channel 3", "synchronized, mean over channels", ...
  // The series has steps between its points with no value: a sampled channel of a run that
  // keeps per-channel detail for some steps only. Plots draw its points, not lines between them.
  bool sparse() const;
};
constexpr int64_t kOverChannels = -1;

// What a set of series shows: one layer's statistic at one sync point, channels first..last,
// or its mean over channels (every step of a run has it; see RunReader::for_each_summary).
struct SeriesSelection {
  std::string layer;
  Statistic statistic = Statistic::kMean;
  int64_t first_channel = 0, last_channel = 0;
  int64_t sync_point = 0;
  bool over_channels = false;
  bool operator==(const SeriesSelection& o) const {
    return layer == o.layer && statistic == o.statistic && first_channel == o.first_channel &&
           last_channel == o.last_channel && sync_point == o.sync_point &&
           over_channels == o.over_channels;
  }
};

// Builds the series of a selection from values as they come. The series are made in the order
// of their first values (for a run file's rows and for live steps alike: keys in SeriesKey's
// order, channels ascending), and later values extend them in place, so a plot that drew them
// only needs the new points.
class SeriesBuilder {
 public:
  explicit SeriesBuilder(SeriesSelection selection = {}) : selection_(std::move(selection)) {}
  // One value; ignored when it is outside the selection.
  void add(int64_t step, const std::string& layer, int64_t sync_point, const SeriesKey& key,
           int64_t channel, Statistic statistic, double value);
  // Every selected value of a live step.
  void add(const replicascope::StepRecord& record);
  // Replaces the series (an answer read from the run file).
  void reset(std::vector<Series> series);
  const std::vector<Series>& series() const { return series_; }
  const SeriesSelection& selection() const { return selection_; }

 private:
  SeriesSelection selection_;
  std::vector<Series> series_;
  std::map<std::pair<SeriesKey, int64_t>, size_t> index_;  // (key, channel) -> position
};

// The series of `selection` in a recorded run: one query, and none for a layer the run has no
// rows of (a live run before its first step, say); RunReader::require_layer tells the two apart.
std::vector<Series> statistic_series(const RunReader& run, const SeriesSelection& selection);

// Every channel of one layer's sync point at one step of a recorded run, as the live step had
// it (copies, synchronized, running, ranks; divergence not read); empty when the step kept no
// detail for it.
std::optional<replicascope::LayerStats> layer_at_step(const RunReader& run,
                                                      const std::string& layer, int64_t sync_point,
                                                      int64_t step);

}  // namespace replicascope::store
