// SPDX-License-Identifier: GPL-3.0-or-later
// What the plots show and the requests to the engine thread that fill it: the plotted layer,
// statistic and channels, the compared runs, the Per-channel view's step, and the StatsHistory
// their answers go into. SessionContext owns one and passes on what it says (historyChanged,
// failed) to the viewers; it decides which layer is plotted (plot_layer).
#pragma once

#include <QObject>
#include <QStringList>

#include <functional>
#include <string>

#include "controller/engine_controller.h"
#include "history/stats_history.h"

namespace replicascope::ui {

class PlottedStatistics : public QObject {
  Q_OBJECT
 public:
  // `live()` says whether the open session trains (a recorded run's view does not move on).
  PlottedStatistics(EngineController& engine, std::function<bool()> live,
                    QObject* parent = nullptr);

  const StatsHistory& history() const { return history_; }
  const store::SeriesSelection& plotted() const { return shown_; }
  const QStringList& compared() const { return compared_; }

  // A new session or run: nothing plotted until plot_layer.
  void start(const ModelSnapshot& snapshot);
  // Plots `layer` ("" for none) at `sync_point` (its call in a step) with the values last asked
  // for: one series request, and the channels at the Per-channel view's kept step when it is on
  // one.
  void plot_layer(const std::string& layer, int64_t sync_point = 0);
  // The statistic, channels and sync point of the plotted layer (`values.layer` is ignored).
  void plot_values(const store::SeriesSelection& values);
  void show_channels_at(int64_t step);
  void show_newest_channels();
  void compare_with(const QStringList& run_paths);
  // The steps a live session's run keeps every channel of, as read now.
  void set_kept_steps(const std::vector<int64_t>& steps);
  // A live step; a recorded run that grew; a Reset (the plotted layer asked for anew).
  void append(const StepRecordPtr& record);
  void update_recorded(const ModelSnapshot& grown);
  void restart();
  // Asks for the plotted series again, keeping what is shown until the answer (the run grew).
  void ask_again();

 signals:
  // The plotted series changed: the plots redraw.
  void historyChanged();
  void failed(const QString& what);

 private:
  void connect_engine();
  void request_series();
  // Forgets the series and the Per-channel view's step.
  void clear();
  // Asks again for the channels at the Per-channel view's kept step, when it is on one.
  void reshow_kept_step();
  EngineController& engine_;
  std::function<bool()> live_;
  StatsHistory history_;
  store::SeriesSelection shown_;  // the layer, call, statistic and channels last asked for
  QStringList compared_;
  // A live session's Per-channel view is on an older recorded step (show_channels_at): new
  // steps do not replace it. newest_ is the newest live step, for show_newest_channels.
  bool pinned_ = false;
  int64_t channels_step_ = -1;  // the recorded step the Per-channel view last asked for
  StepRecordPtr newest_;
};

}  // namespace replicascope::ui
