// The statistics panel's four tabs.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "panels/statistics/statistics_tab.h"

namespace replicascope::ui {

// The selected layer's statistic over steps: each copy's line per channel, synchronized bold,
// running dashed, and a compared run's lines faded beneath.
class OverStepsTab : public StatisticsTab {
 public:
  OverStepsTab();

 protected:
  void fill(const StatsHistory& history) override;
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
// per pixel column (an envelope) when there are more steps than pixels.
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

// Every layer's divergence over steps as one picture: a row per layer in the model's order, a
// column per pixel's worth of steps holding the largest divergence in it (121 layers x 10,000
// steps at once), a NaN in black. The title names the worst layers; a click on a row selects
// its layer (StatisticsView); the mouse shows layer, step and value.
class HeatmapTab : public StatisticsTab {
 public:
  HeatmapTab();
  // The layer of the row at that pixel height ("" outside the rows).
  std::string layer_at(double pixel_y) const;
  // The layers from the worst (largest divergence over all steps) down.
  const std::vector<std::pair<double, std::string>>& worst() const { return worst_; }
  QCPColorMap* map() const { return map_; }
  void set_log_scale(bool) override {}  // the rows are layers, not values

 protected:
  void fill(const StatsHistory& history) override;
  bool shows_data() const override;

 private:
  QString describe_at(const QPointF& pixel) const;
  QCPColorMap* map_ = nullptr;
  QCPColorScale* scale_ = nullptr;
  std::vector<std::string> layers_;
  std::vector<std::pair<double, std::string>> worst_;
  double first_step_ = 0, columns_per_step_ = 0;  // where the columns are, for the tooltip
};

// Loss and accuracy over steps.
class LossTab : public StatisticsTab {
 public:
  LossTab();

 protected:
  void fill(const StatsHistory& history) override;
};

}  // namespace replicascope::ui
