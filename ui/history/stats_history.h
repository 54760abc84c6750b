// SPDX-License-Identifier: GPL-3.0-or-later
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

#include "controller/engine_types.h"
#include "history/divergence_history.h"

namespace replicascope::ui {

// Names with numbers in numeric order: "denselayer2" before "denselayer10".
bool natural_less(const std::string& a, const std::string& b);

// A run drawn faded beside this one (File > Compare with run...), named by its file.
struct ComparedRun {
  QString path;
  QString name;  // the file name without folder and suffix ("unsync"): legends name it
  bool synchronized = true;
  std::vector<store::Series> overlay;  // the selection's series in that run
  std::vector<double> steps, loss, accuracy;
  DivergenceHistory divergence;
};

class StatsHistory {
 public:
  void clear();
  // A recorded run's steps and divergence.
  void load_recorded(const ModelSnapshot& snapshot);
  // The same run read again (it grew): its steps and divergence are replaced, the selection and
  // its series kept (until the new answer replaces them).
  void update_recorded(const ModelSnapshot& snapshot);
  void append(const replicascope::StepRecord& record);

  // Changes the selection; returns the request that fills it (with a new generation). Steps
  // that arrive before the answer are in the answer, so they are not appended meanwhile.
  SeriesRequest select(const store::SeriesSelection& selection, const QStringList& compared);
  // Asks again for the same selection (the run grew); the series shown stay until the answer.
  SeriesRequest reselect(const QStringList& compared);
  // Takes an answer; false when it is stale (an older generation).
  bool accept(const SeriesReply& reply);
  bool awaiting() const { return awaiting_; }

  // The layer, statistic, channels and sync point the views show (the one selection they share).
  const store::SeriesSelection& selection() const { return live_.selection(); }
  // The selected layer's call (selection()'s sync point), and how many the layer has.
  LayerCall selected_call() const;
  const std::vector<double>& steps() const { return steps_; }
  const std::vector<double>& loss() const { return loss_; }
  const std::vector<double>& accuracy() const { return accuracy_; }
  // Per layer: steps and the largest divergence over its sync points.
  const std::map<std::string, store::Series>& divergence() const { return divergence_.largest(); }
  // The layers of divergence() in the model's order (set_layer_order), then any others in
  // natural order ("denselayer2" before "denselayer10"): the order plots and lists show them in.
  std::vector<std::string> divergence_layers() const;
  // Those layers' calls in that order: one for a layer called once a step, one per call (sync
  // point) for a layer called more often; and each call's divergence over steps.
  std::vector<LayerCall> divergence_rows() const;
  const store::Series* divergence_of(const LayerCall& call) const { return divergence_.of(call); }
  // How many times `layer` is called in a step (1: once, or not known yet); the layers called
  // more than once, with their counts.
  int64_t calls(const std::string& layer) const { return divergence_.calls(layer); }
  std::map<std::string, int64_t> call_counts() const { return divergence_.call_counts(); }
  void set_layer_order(std::vector<std::string> modules) { layer_order_ = std::move(modules); }
  const std::vector<store::Series>& series() const { return live_.series(); }
  // Whether the session's layers use the synchronized statistics (false: per-copy BatchNorm,
  // where the whole batch's statistics are recorded but no copy normalizes with them).
  bool synchronized() const { return synchronized_; }
  void set_synchronized(bool on) { synchronized_ = on; }
  // The processes the run trained on (a recorded run's wiring; 1 for a live session and runs
  // without a wiring): with several, the loss is their mean weighted by samples and the copies
  // a run keeps are rank 0's.
  int ranks() const { return ranks_; }
  // The steps whose every channel the run keeps (a recorded run's from its rows; a live
  // session's as last read, set_kept_steps). keeps(): whether `step` is one; a step newer than
  // the last read counts as kept until a read says otherwise, as does every step before any.
  const std::vector<int64_t>& kept_steps() const { return kept_steps_; }
  bool keeps(double step) const;
  // Whether the run kept every channel for a sample of its steps only (then plots mark them).
  bool kept_sample() const { return steps_read_ > kept_steps_.size(); }
  size_t steps_when_kept_read() const { return steps_read_; }
  // A live session's kept steps, read from its run now: every step appended so far was in the
  // run when it was read. False (and nothing changes) when they are the ones known.
  bool set_kept_steps(std::vector<int64_t> steps);
  // The runs compared with this one, in the order they were added: their series of the
  // selection (Over steps), steps, loss, accuracy and divergence (the Loss and Divergence tabs).
  const std::vector<ComparedRun>& compared() const { return compared_; }
  // A compared run's steps, loss and divergence, read once (comparisonRead).
  void set_compared_run(const RunPoll& run);
  // The newest live step (null for a recorded run): the per-channel view draws it.
  const std::shared_ptr<const replicascope::StepRecord>& latest() const { return latest_; }
  // `compared`: the compared runs' channels at the same step, when it is a kept step read from
  // the run files (the step slider); a live step comes without.
  void set_latest(std::shared_ptr<const replicascope::StepRecord> record,
                  std::vector<ComparedChannels> compared = {}) {
    latest_ = std::move(record);
    latest_compared_ = std::move(compared);
  }
  const std::vector<ComparedChannels>& latest_compared() const { return latest_compared_; }
  // Changes when the series are replaced (a clear, a new selection, an answer). Appends only
  // add points at the end: a plot that drew this epoch adds the new points and keeps the rest.
  uint64_t epoch() const { return epoch_; }
  // Changes when the plots show something else: a clear (another session, a Reset) or another
  // selection (layer, statistic, channels, compared run). Not when the same view gets more or
  // fresher data (an answer, a followed run's new steps): the tracer and hidden lines stay.
  uint64_t view() const { return view_; }

 private:
  store::SeriesBuilder live_;  // the selection's series: answered, then extended by steps
  int generation_ = 0;
  bool awaiting_ = false;
  std::vector<double> steps_, loss_, accuracy_;
  DivergenceHistory divergence_;
  std::vector<std::string> layer_order_;
  std::shared_ptr<const replicascope::StepRecord> latest_;
  std::vector<ComparedChannels> latest_compared_;
  uint64_t epoch_ = 0;
  uint64_t view_ = 1;  // a tab that drew nothing yet has drawn view 0
  bool synchronized_ = true;
  int ranks_ = 1;
  std::vector<int64_t> kept_steps_;
  double kept_read_until_ = 0;  // the newest step when kept_steps_ were read (0: never)
  size_t steps_read_ = 0;       // how many steps there were then
  std::vector<ComparedRun> compared_;
  // The compared runs are `paths`, in that order: new ones added empty, others dropped.
  void keep_compared(const QStringList& paths);
  ComparedRun* compared_run(const QString& path);
};

}  // namespace replicascope::ui
