// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/status_panel.h"

#include <QLabel>
#include <QStatusBar>

#include "itemmodels/findings_model.h"
#include "session/session_context.h"

namespace replicascope::ui {

StatusPanel::StatusPanel(SessionContext& context, QStatusBar& bar)
    : QObject(&bar), context_(context), bar_(bar) {
  state_ = new QLabel("no model");
  step_ = new QLabel("step 0");
  loss_ = new QLabel("loss -");
  speed_ = new QLabel("- steps/s");
  findings_ = new QLabel;
  findings_->setVisible(false);  // until there are findings
  for (auto* label : {state_, step_, loss_, speed_, findings_}) bar.addPermanentWidget(label);
  clock_.start();
  context_.add_viewer(this);
}

StatusPanel::~StatusPanel() {
  context_.remove_viewer(this);
}

QString StatusPanel::text() const {
  QStringList fields{state_->text(), step_->text(), loss_->text(), speed_->text()};
  if (!findings_->isHidden()) fields << findings_->text();
  return fields.join(" | ");
}

void StatusPanel::set_state(const QString& state) {
  state_->setText(state);
}

void StatusPanel::show_state() {
  const auto* snapshot = context_.snapshot();
  if (!snapshot) return;
  state_->setText(context_.following() ? QString("following")
                  : !snapshot->live    ? QString("recorded run")
                  : context_.running() ? QString("running")
                                       : QString("ready"));
}

void StatusPanel::on_opened(const ModelSnapshot& snapshot) {
  bar_.clearMessage();  // an error before this open (one that failed, say) is over
  step_times_ms_.clear();
  // A recorded run's status: its last step; a live session's: none yet.
  const auto* last = snapshot.recorded.steps.empty() ? nullptr : &snapshot.recorded.steps.back();
  step_->setText(last ? QString("step %1 (recorded)").arg(last->step) : QString("step 0"));
  first_nonfinite_ = 0;
  for (const auto& row : snapshot.recorded.steps) {
    if (!row.nonfinite.empty()) {
      first_nonfinite_ = row.step;
      nonfinite_ = QString::fromStdString(row.nonfinite);
      break;
    }
  }
  if (last) {
    show_loss(last->loss);
  } else {
    loss_->setText("loss -");
  }
  show_speed_stopped();
  show_state();
}

void StatusPanel::on_stepped(const replicascope::StepRecord& record) {
  const auto now = clock_.elapsed();
  step_times_ms_.push_back(now);
  while (step_times_ms_.size() > 2 && now - step_times_ms_.front() > 2000)
    step_times_ms_.pop_front();
  step_->setText(QString("step %1").arg(record.step));
  if (!first_nonfinite_) {
    const auto part = replicascope::nonfinite_part(record);
    if (!part.empty()) {
      first_nonfinite_ = record.step;
      nonfinite_ = QString::fromStdString(part);
    }
  }
  show_loss(record.loss);
  if (step_times_ms_.size() >= 2) {
    const double span = (step_times_ms_.back() - step_times_ms_.front()) / 1000.0;
    speed_->setText(
        QString("%1 steps/s").arg((step_times_ms_.size() - 1) / std::max(span, 1e-3), 0, 'f', 1));
  }
}

void StatusPanel::show_loss(double loss) {
  auto text = QString("loss %1").arg(loss, 0, 'f', 4);
  // A diverged training stays marked: later finite-looking steps do not hide where it began.
  if (first_nonfinite_)
    text += QString(" (not finite since step %1: %2)").arg(first_nonfinite_).arg(nonfinite_);
  loss_->setText(text);
  loss_->setStyleSheet(first_nonfinite_ ? "color: #c00000; font-weight: bold" : "");
}

void StatusPanel::on_run_grew(const ModelSnapshot& snapshot) {
  if (snapshot.recorded.steps.empty()) return;
  const auto& last = snapshot.recorded.steps.back();
  step_->setText(QString("step %1").arg(last.step));  // the state says "following"
  show_loss(last.loss);
}

void StatusPanel::on_following_changed(bool) {
  show_state();
}

void StatusPanel::on_reset() {
  step_->setText("step 0");
  first_nonfinite_ = 0;
  loss_->setStyleSheet("");
  loss_->setText("loss -");
  show_speed_stopped();
}

void StatusPanel::show_speed_stopped() {
  // A rate is true while steps come: stopped or paused, none do.
  step_times_ms_.clear();
  speed_->setText("- steps/s");
}

void StatusPanel::on_running_changed(bool running) {
  if (!running) show_speed_stopped();
  if (!context_.paused()) show_state();
}

void StatusPanel::on_paused(const BreakpointHit& hit) {
  show_speed_stopped();
  state_->setText(QString("paused at %1").arg(QString::fromStdString(hit.stats.layer)));
}

void StatusPanel::on_findings_changed(const FindingsReport& report, const diagnose::Finding*) {
  // The worst first, in its colour, as the loss says a NaN.
  const auto counts = findings_count_text(report.findings);
  findings_->setText(counts.isEmpty() ? QString() : counts + ": see Findings");
  findings_->setVisible(!counts.isEmpty());
  if (!counts.isEmpty()) {
    findings_->setStyleSheet(QString("color: %1; font-weight: bold")
                                 .arg(severity_colour(report.findings.front().severity).name()));
  }
}

void StatusPanel::on_error(const QString& what) {
  bar_.showMessage(what, 10000);
  state_->setText("error");
}

}  // namespace replicascope::ui
