// The breakpoint panel: while every copy waits at a sync point, what each copy brought (count,
// per-channel mean and var) and the reduced result, before the master hands it out; and the
// ways on: Continue, Step to the next sync point, Run to the end of the batch, Stop.
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
  static constexpr int kMaxChannelsShown = 64;
  explicit BreakpointPanel(SessionContext& context, QWidget* parent = nullptr);
  ~BreakpointPanel() override;

  QTableWidget* table() const { return table_; }

  void on_paused(const BreakpointHit& hit) override;
  void on_resumed() override;
  void on_opened(const ModelSnapshot&) override;

 private:
  SessionContext& context_;
  QLabel* where_ = nullptr;
  QTableWidget* table_ = nullptr;
  QPushButton* buttons_[4] = {};
};

}  // namespace replicascope::ui
