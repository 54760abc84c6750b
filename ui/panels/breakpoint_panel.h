// SPDX-License-Identifier: GPL-3.0-or-later
// The breakpoint panel: while every copy waits at a sync point, what each copy brought (count,
// per-channel mean and var: a row per channel) and the reduced result, before the master hands
// it out; and the ways on: Continue, Step to the next sync point, Run to the end of the batch
// (then stop), Stop. Once the copies go on the table empties: it never shows a past pause.
#pragma once

#include <QWidget>

#include "controller/engine_types.h"
#include "replicascope/engine/resume_mode.h"
#include "session/session_viewer.h"

class QLabel;
class QPushButton;
class QTableWidget;

namespace replicascope::ui {

class SessionContext;

class BreakpointPanel : public QWidget, public SessionViewer {
  Q_OBJECT
 public:
  // Rows, one per channel: enough for any layer of the usual models (a table of 4096 rows is
  // still instant); a wider layer says how many are shown.
  static constexpr int kMaxChannelsShown = 4096;
  explicit BreakpointPanel(SessionContext& context, QWidget* parent = nullptr);
  ~BreakpointPanel() override;

  QTableWidget* table() const { return table_; }

  void on_paused(const BreakpointHit& hit) override;
  void on_resumed() override;
  void on_opened(const ModelSnapshot&) override;

 private:
  SessionContext& context_;
  QLabel* where_ = nullptr;
  QString shown_;  // "step 3 at layer1.0.bn1": the last pause, once it is over
  QTableWidget* table_ = nullptr;
  QPushButton* buttons_[4] = {};
};

}  // namespace replicascope::ui
