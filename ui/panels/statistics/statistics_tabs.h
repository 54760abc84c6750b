// The statistics panel's four tabs.
#pragma once

#include <map>
#include <string>

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

// Loss and accuracy over steps.
class LossTab : public StatisticsTab {
 public:
  LossTab();

 protected:
  void fill(const StatsHistory& history) override;
};

}  // namespace replicascope::ui
