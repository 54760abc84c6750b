// SPDX-License-Identifier: GPL-3.0-or-later
// The status bar's fields: what is open and its state (ready, running, paused at a layer, error),
// the step, the loss, the steps per second while steps come, and the findings ("1 error,
// 2 warnings: see Findings"). Each says what is true now: a rate goes when stepping stops, an
// error's message when a session opens, the findings when a session opens or resets.
#pragma once

#include <QElapsedTimer>
#include <QObject>

#include <deque>

#include "session/session_viewer.h"

class QLabel;
class QStatusBar;

namespace replicascope::ui {

class SessionContext;

class StatusPanel : public QObject, public SessionViewer {
  Q_OBJECT
 public:
  // Adds its fields to `bar`, which owns them.
  StatusPanel(SessionContext& context, QStatusBar& bar);
  ~StatusPanel() override;

  // "ready | step 3 | loss 2.1021 | 4.2 steps/s", then the findings when there are some.
  QString text() const;
  // Shown until the next change of state ("opening demo...").
  void set_state(const QString& state);

  void on_opened(const ModelSnapshot& snapshot) override;
  void on_stepped(const replicascope::StepRecord& record) override;
  void on_reset() override;
  void on_run_grew(const ModelSnapshot& snapshot) override;
  void on_following_changed(bool following) override;
  void on_running_changed(bool running) override;
  void on_paused(const BreakpointHit& hit) override;
  void on_resumed() override { show_state(); }
  void on_error(const QString& what) override;
  void on_findings_changed(const FindingsReport& report, const diagnose::Finding*) override;

 private:
  void show_state();
  void show_loss(double loss);
  void show_speed_stopped();
  SessionContext& context_;
  QStatusBar& bar_;
  QLabel* state_ = nullptr;
  QLabel* step_ = nullptr;
  QLabel* loss_ = nullptr;
  QLabel* speed_ = nullptr;
  QLabel* findings_ = nullptr;        // hidden while there are none
  int64_t first_nonfinite_ = 0;       // the first step with a NaN or infinity; 0: none yet
  QString nonfinite_;                 // what was not finite there
  std::deque<qint64> step_times_ms_;  // for steps/s, over the last two seconds
  QElapsedTimer clock_;
};

}  // namespace replicascope::ui
