// SPDX-License-Identifier: GPL-3.0-or-later
// The Findings dock: what the rules found in what is open (issue 31), as a compiler lists its
// diagnostics. A row per finding: severity, kind, where (layer and call, copies or ranks,
// channels), since when and the evidence; why it matters and what to do as the row's tooltip and
// in the details line below; the kinds this version does not check, and why, under it. A click
// (or the arrow keys) selects the finding: its layer and call, the Per-channel view's kept step
// nearest its first step, and its steps marked on the plots. A live session's findings come
// after every step, a recorded run's when it was checked (and again as a followed run grows).
#pragma once

#include <QWidget>

#include "itemmodels/findings_model.h"
#include "session/session_viewer.h"

class QLabel;
class QTableView;

namespace replicascope::ui {

class SessionContext;

class FindingsPanel : public QWidget, public SessionViewer {
  Q_OBJECT
 public:
  explicit FindingsPanel(SessionContext& context, QWidget* parent = nullptr);
  ~FindingsPanel() override;

  QTableView* table() const { return table_; }
  const FindingsModel& model() const { return model_; }
  // "1 warning in 40 steps: ..."; "Checking the run..."; "No findings in 30 steps."
  QString summary() const;
  // The selected finding said whole, or how to get there.
  QString details() const;
  // "not checked (not recorded in this run): rank-buffers-differ, ..."
  QString not_checked() const;

  void on_opened(const ModelSnapshot& snapshot) override;
  void on_reset() override;
  void on_findings_changed(const FindingsReport& report,
                           const diagnose::Finding* selected) override;
  void on_finding_selected(const diagnose::Finding* finding) override;

 private:
  void show_selected();
  // Brings the dock forward (a tab beside Wiring), once a session: its first warning or error.
  void come_forward();
  SessionContext& context_;
  FindingsModel model_;
  QLabel* summary_ = nullptr;
  QTableView* table_ = nullptr;
  QLabel* details_ = nullptr;
  QLabel* not_checked_ = nullptr;
  bool showing_ = false;       // the panel selects the context's row: not a user's click
  bool came_forward_ = false;  // this session's first warning or error brought the dock forward
};

}  // namespace replicascope::ui
