// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/breakpoint_panel.h"

#include <QGridLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "session/session_context.h"

namespace replicascope::ui {

BreakpointPanel::BreakpointPanel(SessionContext& context, QWidget* parent)
    : QWidget(parent), context_(context) {
  auto* layout = new QVBoxLayout(this);
  where_ = new QLabel;
  where_->setWordWrap(true);
  layout->addWidget(where_);
  // Two by two: in a row the four would need 500 px, and the window is laid out for 1024.
  auto* grid = new QGridLayout;
  const char* labels[] = {"Continue", "Step to next sync point", "Run to end of batch", "Stop"};
  const char* tips[] = {"F8: run on to the next breakpoint", "F11: pause at the next sync point",
                        "no more pauses in this step; stepping stops when it ends",
                        "Shift+F5: release every copy and stop"};
  for (int i = 0; i < 4; ++i) {
    buttons_[i] = new QPushButton(labels[i]);
    buttons_[i]->setToolTip(tips[i]);
    buttons_[i]->setEnabled(false);
    grid->addWidget(buttons_[i], i / 2, i % 2);
  }
  grid->setColumnStretch(2, 1);
  layout->addLayout(grid);
  table_ = new QTableWidget;
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  layout->addWidget(table_, 1);
  const engine::ResumeMode modes[] = {engine::ResumeMode::kContinue,
                                      engine::ResumeMode::kNextSyncPoint,
                                      engine::ResumeMode::kEndOfBatch};
  for (int i = 0; i < 3; ++i) {
    connect(buttons_[i], &QPushButton::clicked, this,
            [this, mode = modes[i]] { context_.resume(mode); });
  }
  connect(buttons_[3], &QPushButton::clicked, this, [this] { context_.stop(); });
  on_opened({});
  context_.add_viewer(this);
}

void BreakpointPanel::on_opened(const ModelSnapshot&) {
  where_->setText(
      "No breakpoint hit. Right-click a synchronized layer in the module tree or the wiring grid "
      "to set one.");
  table_->clear();
  table_->setRowCount(0);
  table_->setColumnCount(0);
  shown_.clear();
  for (auto* b : buttons_) b->setEnabled(false);
}

BreakpointPanel::~BreakpointPanel() {
  context_.remove_viewer(this);
}

void BreakpointPanel::on_paused(const BreakpointHit& hit) {
  const auto& s = hit.stats;
  const int channels =
      static_cast<int>(std::min<size_t>(s.mean.size(), static_cast<size_t>(kMaxChannelsShown)));
  where_->setText(
      QString("<b>Paused</b> in step %1 at <b>%2</b>, sync point %3: %4 copies "
              "wait for the reduced result.%5")
          .arg(hit.step)
          .arg(QString::fromStdString(s.layer))
          .arg(s.sync_point)
          .arg(s.copies.size())
          .arg(static_cast<int>(s.mean.size()) > channels
                   ? QString(" First %1 of %2 channels shown.").arg(channels).arg(s.mean.size())
                   : QString()));
  // One row per channel (a 512-channel layer scrolls down), two columns per copy and two for the
  // reduced result; each column's header says how many values it came from.
  table_->clear();
  table_->setRowCount(channels);
  const int copies = static_cast<int>(s.copies.size());
  table_->setColumnCount(2 * (copies + 1));
  QStringList headers;
  auto fill = [&](int column, const std::vector<double>& mean, const std::vector<double>& var,
                  bool bold) {
    for (int c = 0; c < channels; ++c) {
      for (int k = 0; k < 2; ++k) {
        const auto& values = k == 0 ? mean : var;
        if (c >= static_cast<int>(values.size())) continue;
        auto* item = new QTableWidgetItem(QString::number(values[c], 'g', 6));
        item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        if (bold) {
          auto font = item->font();
          font.setBold(true);
          item->setFont(font);
        }
        table_->setItem(c, column + k, item);
      }
    }
  };
  for (int i = 0; i < copies; ++i) {
    const auto& copy = s.copies[i];
    const auto name =
        QString("copy %1%2").arg(copy.copy).arg(copy.copy == 0 ? " (master)" : QString());
    headers << QString("%1\nmean (n=%2)").arg(name).arg(copy.count) << name + "\nvar";
    fill(2 * i, copy.mean, copy.var, false);
  }
  headers << QString("reduced\nmean (n=%1)").arg(s.count) << "reduced\nvar";
  fill(2 * copies, s.mean, s.var, true);
  table_->setHorizontalHeaderLabels(headers);
  QStringList rows;
  for (int c = 0; c < channels; ++c) rows << QString("channel %1").arg(c);
  table_->setVerticalHeaderLabels(rows);
  table_->resizeColumnsToContents();
  shown_ = QString("step %1 at %2").arg(hit.step).arg(QString::fromStdString(s.layer));
  for (auto* b : buttons_) b->setEnabled(true);
  // The dock that holds the panel comes forward.
  if (auto* dock = parentWidget()) {
    dock->show();
    dock->raise();
  }
}

void BreakpointPanel::on_resumed() {
  // The copies went on (or were stopped): what they brought is no longer where they are.
  table_->clear();
  table_->setRowCount(0);
  table_->setColumnCount(0);
  where_->setText(shown_.isEmpty() ? QString("Running: the copies went on.")
                                   : QString("The copies went on from the pause in %1; the "
                                             "table shows the next pause.")
                                         .arg(shown_));
  for (auto* b : buttons_) b->setEnabled(false);
}

}  // namespace replicascope::ui
