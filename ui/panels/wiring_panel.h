// SPDX-License-Identifier: GPL-3.0-or-later
// The Wiring panel: one row per module index (its replication context), one column per copy
// (ranks x copies for runs of several processes), problems in red. Selecting a row makes its
// module the session's current one.
#pragma once

#include <QTableView>

#include "itemmodels/wiring_model.h"
#include "session/session_viewer.h"

namespace replicascope::ui {

class SessionContext;

class WiringPanel : public QTableView, public SessionViewer {
  Q_OBJECT
 public:
  explicit WiringPanel(SessionContext& context, QWidget* parent = nullptr);
  ~WiringPanel() override;

  WiringModel& wiring_model() { return model_; }

  void on_opened(const ModelSnapshot& snapshot) override;
  void on_selection_changed(const std::string& module) override;

 private:
  SessionContext& context_;
  WiringModel model_;
};

}  // namespace replicascope::ui
