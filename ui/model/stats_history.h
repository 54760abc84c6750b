// What the plots draw: the steps so far (loss, accuracy, speed), every layer's divergence, and
// the selected layer's statistic per copy and channel. Live steps are appended as they come;
// a change of selection is answered from the run database (SeriesReply), since only the
// selected channels are kept in memory.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine_types.h"

namespace replicascope::ui {

struct StatsSelection {
  std::string layer;
  std::string statistic = "mean";  // or "var"
  int64_t first_channel = 0, last_channel = 0;
  bool operator==(const StatsSelection& o) const {
    return layer == o.layer && statistic == o.statistic && first_channel == o.first_channel &&
           last_channel == o.last_channel;
  }
};

class StatsHistory {
 public:
  void clear();
  // A recorded run's steps and divergence.
  void load_recorded(const ModelSnapshot& snapshot);
  void append(const engine::StepRecord& record);

  // Changes the selection; returns the request that fills it (with a new generation). Steps
  // that arrive before the answer are in the answer, so they are not appended meanwhile.
  SeriesRequest select(const StatsSelection& selection, const QString& overlay_path);
  // Takes an answer; false when it is stale (an older generation).
  bool accept(const SeriesReply& reply);
  bool awaiting() const { return awaiting_; }

  const StatsSelection& selection() const { return selection_; }
  const std::vector<double>& steps() const { return steps_; }
  const std::vector<double>& loss() const { return loss_; }
  const std::vector<double>& accuracy() const { return accuracy_; }
  // Per layer: steps and the largest divergence over its sync points.
  const std::map<std::string, store::Series>& divergence() const { return divergence_; }
  const std::vector<store::Series>& series() const { return series_; }
  const std::vector<store::Series>& overlay() const { return overlay_; }
  // The newest live step (null for a recorded run): the per-channel view draws it.
  const std::shared_ptr<const engine::StepRecord>& latest() const { return latest_; }
  void set_latest(std::shared_ptr<const engine::StepRecord> record) { latest_ = std::move(record); }
  // Changes when the series are replaced (a clear, a new selection, an answer). Appends only
  // add points at the end: a plot that drew this epoch adds the new points and keeps the rest.
  uint64_t epoch() const { return epoch_; }

 private:
  void append_selected(const engine::StepRecord& record);
  StatsSelection selection_;
  int generation_ = 0;
  bool awaiting_ = false;
  std::vector<double> steps_, loss_, accuracy_;
  std::map<std::string, store::Series> divergence_;
  std::vector<store::Series> series_, overlay_;
  std::shared_ptr<const engine::StepRecord> latest_;
  uint64_t epoch_ = 0;
};

// The value of `statistic` for one copy (or kSynchronizedCopy, kRunningCopy) and channel in a
// layer's statistics; false when the layer has no such value (no running stats, say).
bool statistic_value(const engine::LayerStats& stats, const std::string& statistic, int copy,
                     int64_t channel, double& value);

}  // namespace replicascope::ui
