// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/statistics/statistics_controls.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QVBoxLayout>
#include <algorithm>

#include "replicascope/base/records.h"

namespace replicascope::ui {

StatisticsControls::StatisticsControls(QWidget* parent) : QWidget(parent) {
  // Two rows, what is drawn and how: in one the controls need 700 px, more than the plots get
  // beside the docks in a window of 1024 px, and a squeezed row cuts its labels.
  auto* rows = new QVBoxLayout(this);
  rows->setContentsMargins(0, 0, 0, 0);
  rows->setSpacing(2);
  auto* controls = new QHBoxLayout;
  auto* drawing = new QHBoxLayout;
  rows->addLayout(controls);
  rows->addLayout(drawing);
  statistic_ = new QComboBox;
  statistic_->addItems({"mean", "var"});
  statistic_->setToolTip("the statistic drawn over steps and per channel");
  call_ = new QComboBox;
  call_->setObjectName("call");
  call_->setVisible(false);  // until a layer called more than once is shown
  first_channel_ = new QSpinBox;
  last_channel_ = new QSpinBox;
  first_channel_->setRange(0, 0);
  last_channel_->setRange(0, 0);
  log_scale_ = new QCheckBox("log scale");
  over_channels_ = new QCheckBox("mean over channels");
  over_channels_->setToolTip(
      "each copy's mean over the channels, at every step; a run keeps every channel's values\n"
      "for a sample of its steps only (train --detail-steps), which are drawn as points");
  controls->addWidget(new QLabel("statistic"));
  controls->addWidget(statistic_);
  controls->addWidget(call_);
  controls->addWidget(new QLabel("channels"));
  controls->addWidget(first_channel_);
  controls->addWidget(new QLabel("to"));
  controls->addWidget(last_channel_);
  controls->addWidget(over_channels_);
  controls->addStretch();
  drawing->addWidget(log_scale_);
  build_smoothing(*drawing);
  drawing->addStretch();
  connect_selection();
}

void StatisticsControls::build_smoothing(QHBoxLayout& row) {
  smoothing_ = new QSlider(Qt::Horizontal);
  smoothing_->setObjectName("smoothing");
  smoothing_->setRange(0, 99);
  smoothing_->setFixedWidth(80);
  smoothing_->setToolTip(
      "smoothing of the lines over steps (Over steps, Loss), as TensorBoard's: an exponential\n"
      "moving average with this weight; 0 draws each step's own value. The title and the CSV\n"
      "say when lines are smoothed.");
  smoothing_label_ = new QLabel("smoothing 0");
  // As wide as its widest text: a label that grows would widen the panel and squeeze the docks.
  smoothing_label_->setFixedWidth(
      smoothing_label_->fontMetrics().horizontalAdvance("smoothing 0.99") + 4);
  row.addWidget(smoothing_label_);
  row.addWidget(smoothing_);
  connect(smoothing_, &QSlider::valueChanged, this,
          [this](int hundredths) { emit smoothingChanged(hundredths / 100.0); });
}

void StatisticsControls::connect_selection() {
  connect(statistic_, &QComboBox::currentIndexChanged, this, &StatisticsControls::selectionEdited);
  connect(call_, &QComboBox::currentIndexChanged, this, &StatisticsControls::selectionEdited);
  connect(first_channel_, &QSpinBox::valueChanged, this, [this](int v) {
    if (last_channel_->value() < v) last_channel_->setValue(v);
    emit selectionEdited();
  });
  connect(last_channel_, &QSpinBox::valueChanged, this, [this](int v) {
    if (first_channel_->value() > v) first_channel_->setValue(v);
    emit selectionEdited();
  });
  connect(log_scale_, &QCheckBox::toggled, this, &StatisticsControls::logScaleToggled);
  connect(over_channels_, &QCheckBox::toggled, this, [this](bool on) {
    first_channel_->setEnabled(!on);
    last_channel_->setEnabled(!on);
    emit selectionEdited();
  });
}

store::SeriesSelection StatisticsControls::selection_for(const std::string& layer) const {
  store::SeriesSelection s;
  s.layer = layer;
  s.statistic = parse_statistic(statistic_->currentText().toStdString());
  s.sync_point = std::max(0, call_->currentIndex());
  s.first_channel = first_channel_->value();
  s.last_channel = last_channel_->value();
  s.over_channels = over_channels_->isChecked();
  return s;
}

void StatisticsControls::show_calls(const LayerCall& call) {
  const QSignalBlocker blocker(call_);
  const bool several = call.calls > 1;
  if (call_->count() != (several ? call.calls : 0)) {
    call_->clear();
    for (int64_t i = 0; several && i < call.calls; ++i)
      call_->addItem(LayerCall{call.layer, i, call.calls}.call_text());
  }
  call_->setCurrentIndex(several ? static_cast<int>(call.sync_point) : -1);
  call_->setToolTip(QString("%1 is called %2 times in each step (a module shared by branches, or "
                            "reused in a loop):\neach call is a sync point with batch statistics "
                            "of its own. Over steps, Per channel and\nDivergence draw the call "
                            "picked here. The running statistics are one buffer that\nevery call "
                            "updates: drawn after this call's update.")
                        .arg(QString::fromStdString(call.layer))
                        .arg(call.calls));
  call_->setVisible(several);
}

void StatisticsControls::set_channel_count(int64_t channels) {
  const int top = static_cast<int>(std::max<int64_t>(0, channels - 1));
  const QSignalBlocker a(first_channel_), b(last_channel_);
  first_channel_->setRange(0, top);
  last_channel_->setRange(0, top);
}

void StatisticsControls::set_over_channels(bool on) {
  const QSignalBlocker blocker(over_channels_);
  over_channels_->setChecked(on);
  first_channel_->setEnabled(!on);
  last_channel_->setEnabled(!on);
}

void StatisticsControls::set_log_scale(bool on) {
  // A change says so through logScaleToggled: the panel's set_log_scale re-enters once.
  if (log_scale_->isChecked() != on) log_scale_->setChecked(on);
}

void StatisticsControls::set_smoothing(int hundredths) {
  // A move says so through smoothingChanged: the panel's set_smoothing re-enters once.
  if (smoothing_->value() != hundredths) smoothing_->setValue(hundredths);
  smoothing_label_->setText(QString("smoothing %1").arg(hundredths / 100.0));
}

}  // namespace replicascope::ui
