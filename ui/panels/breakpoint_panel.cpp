#include "panels/breakpoint_panel.h"

#include <QHBoxLayout>
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
  auto* row = new QHBoxLayout;
  const char* labels[] = {"Continue", "Step to next sync point", "Run to end of batch", "Stop"};
  const char* tips[] = {"F8: run on to the next breakpoint", "F11: pause at the next sync point",
                        "no more pauses in this step", "Shift+F5: release every copy and stop"};
  for (int i = 0; i < 4; ++i) {
    buttons_[i] = new QPushButton(labels[i]);
    buttons_[i]->setToolTip(tips[i]);
    buttons_[i]->setEnabled(false);
    row->addWidget(buttons_[i]);
  }
  row->addStretch();
  layout->addLayout(row);
  table_ = new QTableWidget;
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  layout->addWidget(table_, 1);
  const engine::ResumeMode modes[] = {engine::ResumeMode::kContinue,
                                      engine::ResumeMode::kNextSyncPoint,
                                      engine::ResumeMode::kEndOfBatch};
  for (int i = 0; i < 3; ++i) {
    connect(buttons_[i], &QPushButton::clicked, this,
            [this, mode = modes[i]] { context_.engine().resume(mode); });
  }
  connect(buttons_[3], &QPushButton::clicked, this, [this] { context_.engine().stop(); });
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
  table_->clear();
  table_->setRowCount(static_cast<int>(s.copies.size()) + 1);
  table_->setColumnCount(1 + 2 * channels);
  QStringList headers{"count"};
  for (int c = 0; c < channels; ++c)
    headers << QString("mean[%1]").arg(c) << QString("var[%1]").arg(c);
  table_->setHorizontalHeaderLabels(headers);
  QStringList rows;
  auto fill = [&](int row, int64_t count, const std::vector<double>& mean,
                  const std::vector<double>& var) {
    table_->setItem(row, 0, new QTableWidgetItem(QString::number(count)));
    for (int c = 0; c < channels; ++c) {
      if (c < static_cast<int>(mean.size())) {
        table_->setItem(row, 1 + 2 * c, new QTableWidgetItem(QString::number(mean[c], 'g', 6)));
      }
      if (c < static_cast<int>(var.size())) {
        table_->setItem(row, 2 + 2 * c, new QTableWidgetItem(QString::number(var[c], 'g', 6)));
      }
    }
  };
  for (size_t i = 0; i < s.copies.size(); ++i) {
    const auto& copy = s.copies[i];
    rows << QString("copy %1%2").arg(copy.copy).arg(copy.copy == 0 ? " (master)" : "");
    fill(static_cast<int>(i), copy.count, copy.mean, copy.var);
  }
  rows << "reduced";
  const int reduced = static_cast<int>(s.copies.size());
  fill(reduced, s.count, s.mean, s.var);
  for (int c = 0; c < table_->columnCount(); ++c) {
    if (auto* item = table_->item(reduced, c)) {
      auto font = item->font();
      font.setBold(true);
      item->setFont(font);
    }
  }
  table_->setVerticalHeaderLabels(rows);
  table_->resizeColumnsToContents();
  for (auto* b : buttons_) b->setEnabled(true);
  // The dock that holds the panel comes forward.
  if (auto* dock = parentWidget()) {
    dock->show();
    dock->raise();
  }
}

void BreakpointPanel::on_resumed() {
  where_->setText("Running: the copies went on.");
  for (auto* b : buttons_) b->setEnabled(false);
}

}  // namespace replicascope::ui
