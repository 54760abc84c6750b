// SPDX-License-Identifier: GPL-3.0-or-later
// The Per-channel view's step slider, on a row of its own above that tab's plot: it moves
// between the recorded steps that kept every channel's values (the context draws the channels at
// the step it is on). In a live session its last position is the newest step, as training goes
// on. The row shows only while there are kept steps.
#pragma once

#include <QWidget>

#include <cstdint>
#include <vector>

#include "controller/engine_types.h"

class QLabel;
class QSlider;

namespace replicascope::ui {

class SessionContext;

class KeptStepSlider : public QWidget {
 public:
  explicit KeptStepSlider(SessionContext& context, QWidget* parent = nullptr);

  const std::vector<int64_t>& kept_steps() const { return kept_steps_; }
  QSlider* slider() const { return slider_; }
  // Whether the slider is on its last position (the newest step it offers).
  bool on_newest() const;
  // The kept steps of a recorded run, the slider on the newest or where it was.
  void set_kept_steps(const ModelSnapshot& snapshot, bool at_newest);
  void apply_kept_steps(std::vector<int64_t> steps, bool at_newest);
  // Moves to the kept step nearest `step` (the earlier of two as near); none kept: stays.
  void show_nearest(int64_t step);

 private:
  void show_kept_step(int index);

  SessionContext& context_;
  QSlider* slider_ = nullptr;
  QLabel* label_ = nullptr;
  std::vector<int64_t> kept_steps_;
};

}  // namespace replicascope::ui
