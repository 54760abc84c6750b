// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/statistics/kept_step_slider.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <algorithm>
#include <utility>

#include "session/session_context.h"

namespace replicascope::ui {

KeptStepSlider::KeptStepSlider(SessionContext& context, QWidget* parent)
    : QWidget(parent), context_(context) {
  slider_ = new QSlider(Qt::Horizontal);
  slider_->setToolTip(
      "Per channel: the recorded step to draw, among those that kept every channel's values");
  slider_->setMinimumWidth(120);
  label_ = new QLabel;
  auto* row = new QHBoxLayout(this);
  row->setContentsMargins(0, 0, 0, 0);
  row->addWidget(new QLabel("Per channel at"));
  row->addWidget(slider_, 1);
  row->addWidget(label_);
  setVisible(false);  // until there are kept steps
  connect(slider_, &QSlider::valueChanged, this, &KeptStepSlider::show_kept_step);
}

bool KeptStepSlider::on_newest() const {
  return slider_->value() == slider_->maximum();
}

void KeptStepSlider::set_kept_steps(const ModelSnapshot& snapshot, bool at_newest) {
  std::vector<int64_t> kept;
  for (const auto& step : snapshot.recorded.steps) {
    if (step.detail) kept.push_back(step.step);
  }
  apply_kept_steps(std::move(kept), at_newest);
}

void KeptStepSlider::apply_kept_steps(std::vector<int64_t> steps, bool at_newest) {
  // The slider stays on the step it showed, not on its position: a run thins out its kept
  // steps as it grows (--detail-steps auto), which moves the later ones down the list. A step
  // no longer kept gives way to the next one kept.
  const int before = slider_->value();
  const int64_t shown = before >= 0 && before < static_cast<int>(kept_steps_.size())
                            ? kept_steps_[static_cast<size_t>(before)]
                            : -1;
  kept_steps_ = std::move(steps);
  // Live, one more position past the kept steps: the newest step, following the training.
  const int positions = static_cast<int>(kept_steps_.size()) + (context_.live() ? 1 : 0);
  const QSignalBlocker slider_blocker(slider_);
  slider_->setRange(0, std::max(0, positions - 1));
  int value = slider_->maximum();
  if (!at_newest && shown >= 0) {
    value = static_cast<int>(std::lower_bound(kept_steps_.begin(), kept_steps_.end(), shown) -
                             kept_steps_.begin());
  }
  slider_->setValue(std::min(value, slider_->maximum()));
  setVisible(!kept_steps_.empty());
  show_kept_step(slider_->value());
}

void KeptStepSlider::show_nearest(int64_t step) {
  if (kept_steps_.empty()) return;
  auto at = std::lower_bound(kept_steps_.begin(), kept_steps_.end(), step);
  if (at == kept_steps_.end() || (at != kept_steps_.begin() && step - *(at - 1) <= *at - step))
    --at;
  slider_->setValue(static_cast<int>(at - kept_steps_.begin()));
}

void KeptStepSlider::show_kept_step(int index) {
  if (context_.live() && index == static_cast<int>(kept_steps_.size())) {
    label_->setText(QString("the newest step (%1 kept)").arg(kept_steps_.size()));
    context_.show_newest_channels();
    return;
  }
  if (index < 0 || index >= static_cast<int>(kept_steps_.size())) return;
  label_->setText(QString("step %1 (%2 of %3 kept)")
                      .arg(kept_steps_[index])
                      .arg(index + 1)
                      .arg(kept_steps_.size()));
  context_.show_channels_at(kept_steps_[index]);
}

}  // namespace replicascope::ui
