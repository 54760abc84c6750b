// SPDX-License-Identifier: GPL-3.0-or-later
// The statistics panel's four tabs.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "panels/statistics/statistics_tab.h"
#include "panels/statistics/step_band.h"
#include "replicascope/diagnose/finding.h"

namespace replicascope::ui {

// A line's name in legends (series_label), saying for a layer called more than once a step
// which update of its one running buffer (every call updates it) the running line is: "running
// (after call 2 of 2)".
QString call_series_label(const SeriesKey& key, const LayerCall& call, bool synchronized,
                          bool of_ranks);

// The selected layer's statistic over steps, one drawing live and read back from the run: each
// key's mean over channels as a line (every step has it), synchronized bold, running dashed,
// the steps that kept every channel marked on the bold line; a channel's values as points at
// those steps; a compared run's faded beneath.
class OverStepsTab : public StatisticsTab {
 public:
  OverStepsTab();

 protected:
  void fill(const StatsHistory& history) override;

 private:
  // One run's series: this run's (run null) or the index-th compared run's.
  struct Group {
    const std::vector<store::Series>* series;
    const ComparedRun* run;
    size_t index;
  };
  static std::vector<SeriesKey> keys_of(const std::vector<store::Series>& series);
  // Draws a group's series into the graphs from `g` on; returns the next graph's index. `bold`
  // gets this run's synchronized line (or its first).
  int draw_group(const Group& group, const StatsHistory& history, bool append, QSet<QString>& named,
                 int g, QCPGraph*& bold);
  void mark_kept_steps(const StatsHistory& history, const QCPGraph& bold, QCPGraph& marks,
                       QSet<QString>& named);
};

// Every channel of the selected layer at the newest live step, per copy and synchronized.
class PerChannelTab : public StatisticsTab {
 public:
  PerChannelTab();

 protected:
  void fill(const StatsHistory& history) override;
  QString empty_hint() const override;
};

// Per layer, how far the copies' local means are from the synchronized mean: the largest value
// per pixel column (an envelope) when there are more steps than pixels. A layer called more
// than once a step has a line per call, the selected call's bold.
class DivergenceTab : public StatisticsTab {
 public:
  // A layer's envelope, extended as steps come.
  struct Envelope {
    double bucket = 0;  // steps per point
    size_t used = 0;    // points of the series already in it
    int64_t slot = 0;
    std::vector<double> x, y;
  };
  DivergenceTab();
  void forget() override;

 protected:
  void fill(const StatsHistory& history) override;

 private:
  std::map<std::string, Envelope> envelopes_;
};

class RowTicker;

// Every layer's divergence over steps as one picture: a row per layer in the model's order (a
// row per call for a layer called more than once a step, "bn (call 2 of 2)"), a
// column per pixel's worth of steps holding the largest divergence in it (121 layers x 10,000
// steps at once), a NaN in black, white for none. Rows are whole and of one height, named every
// k-th when crowded, never overlapping; the title names the worst layers (a long name loses its
// middle); a click on a row selects its layer (StatisticsView); the mouse shows layer, step and
// value.
class HeatmapTab : public StatisticsTab {
 public:
  HeatmapTab();
  // The layer (and call) of the row at that pixel height ("" outside the rows).
  std::string layer_at(double pixel_y) const { return call_at(pixel_y).layer; }
  LayerCall call_at(double pixel_y) const;
  // The rows' layer calls from the worst (largest divergence over all steps) down.
  const std::vector<std::pair<double, LayerCall>>& worst() const { return worst_; }
  QCPColorMap* map() const { return map_; }
  void set_log_scale(bool) override {}  // the rows are layers, not values
  // Outlines the finding's row over its steps (null: none), placed again as the rows change.
  void mark(const diagnose::Finding* finding);
  const StepBand& band() const { return *band_; }

 protected:
  void fill(const StatsHistory& history) override;
  bool shows_data() const override;
  void fit_axes() override;

 private:
  QString describe_at(const QPointF& pixel) const;
  void name_rows();
  void colour_from_zero();
  void name_worst();
  void place_mark();
  QCPColorMap* map_ = nullptr;
  QCPColorScale* scale_ = nullptr;
  std::unique_ptr<StepBand> band_;
  std::optional<diagnose::Finding> marked_;
  QSharedPointer<RowTicker> rows_;
  std::vector<LayerCall> rows_of_;  // what each row shows, top down
  std::vector<std::pair<double, LayerCall>> worst_;
  double first_step_ = 0, columns_per_step_ = 0;  // where the columns are, for the tooltip
  int titled_for_ = -1;  // the title's width when the worst layers' names were elided for it
};

// Loss and accuracy over steps.
class LossTab : public StatisticsTab {
 public:
  LossTab();

 protected:
  void fill(const StatsHistory& history) override;
};

}  // namespace replicascope::ui
