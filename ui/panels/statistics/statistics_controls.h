// SPDX-License-Identifier: GPL-3.0-or-later
// The statistics panel's controls, in two rows: the statistic, the layer's call (for a layer
// called more than once a step) and the channel range (or each copy's mean over the channels);
// log scale and smoothing. It holds what the user picked and says
// when it changed; the panel (StatisticsView) asks the context for the series and redraws the tabs.
#pragma once

#include <QWidget>

#include <cstdint>
#include <string>

#include "history/divergence_history.h"
#include "replicascope/store/series.h"

class QCheckBox;
class QComboBox;
class QHBoxLayout;
class QLabel;
class QSlider;
class QSpinBox;

namespace replicascope::ui {

class StatisticsControls : public QWidget {
  Q_OBJECT
 public:
  explicit StatisticsControls(QWidget* parent = nullptr);

  // The controls' statistic, call (sync point) and channels for `layer`.
  store::SeriesSelection selection_for(const std::string& layer) const;
  // Shows the call selector ("call 1 of 2") for `call`'s layer when it has several calls, on
  // `call`'s; hides it (taking no room) for a layer called once. Says nothing (no
  // selectionEdited): it shows what is drawn.
  void show_calls(const LayerCall& call);
  QComboBox* call_selector() const { return call_; }
  // The channel range's top is channel `channels` - 1 (the spin boxes say nothing of it).
  void set_channel_count(int64_t channels);
  // Checks "mean over channels" (without saying so) and turns the channel range off for it.
  void set_over_channels(bool on);
  // Checks "log scale"; a change says so through logScaleToggled.
  void set_log_scale(bool on);
  // Moves the smoothing slider (a change says so through smoothingChanged) and shows its weight.
  void set_smoothing(int hundredths);
  // TensorBoard's smoothing of the lines over steps (Over steps, Loss), 0 to 0.99 in hundredths.
  QSlider* smoothing_slider() const { return smoothing_; }

 signals:
  // The statistic, the call, the channel range or "mean over channels" changed.
  void selectionEdited();
  void logScaleToggled(bool on);
  void smoothingChanged(double weight);

 private:
  void build_smoothing(QHBoxLayout& row);
  void connect_selection();

  QComboBox* statistic_ = nullptr;
  QComboBox* call_ = nullptr;
  QSpinBox* first_channel_ = nullptr;
  QSpinBox* last_channel_ = nullptr;
  QCheckBox* log_scale_ = nullptr;
  QCheckBox* over_channels_ = nullptr;
  QSlider* smoothing_ = nullptr;
  QLabel* smoothing_label_ = nullptr;
};

}  // namespace replicascope::ui
