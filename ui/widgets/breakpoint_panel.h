// The breakpoint panel: while every copy waits at a sync point, what each copy brought (count,
// per-channel mean and var) and the reduced result, before the master hands it out; and the
// ways on: Continue, Step to the next sync point, Run to the end of the batch, Stop.
#pragma once

#include <QWidget>

#include "engine/engine_types.h"
#include "replicascope/engine/breakpoints.h"

class QLabel;
class QPushButton;
class QTableWidget;

namespace replicascope::ui {

class BreakpointPanel : public QWidget {
  Q_OBJECT
 public:
  static constexpr int kMaxChannelsShown = 64;
  explicit BreakpointPanel(QWidget* parent = nullptr);

  void show_hit(const BreakpointHit& hit);
  void clear_hit();  // the copies went on
  QTableWidget* table() const { return table_; }

 signals:
  void resumeRequested(replicascope::engine::ResumeMode mode);
  void stopRequested();

 private:
  QLabel* where_ = nullptr;
  QTableWidget* table_ = nullptr;
  QPushButton* buttons_[4] = {};
};

}  // namespace replicascope::ui
