// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/wiring_panel.h"

#include <QHeaderView>

#include "panels/breakpoint_menu.h"
#include "session/session_context.h"

namespace replicascope::ui {

WiringPanel::WiringPanel(SessionContext& context, QWidget* parent)
    : QTableView(parent), context_(context) {
  setModel(&model_);
  setSelectionBehavior(QAbstractItemView::SelectRows);
  setSelectionMode(QAbstractItemView::SingleSelection);
  verticalHeader()->setDefaultSectionSize(20);
  connect(selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            if (current.isValid())
              context_.select(current.data(WiringModel::kModuleRole).toString().toStdString());
          });
  add_breakpoint_menu(context_, this, WiringModel::kModuleRole);
  context_.add_viewer(this);
}

WiringPanel::~WiringPanel() {
  context_.remove_viewer(this);
}

void WiringPanel::on_opened(const ModelSnapshot& snapshot) {
  model_.set_wiring(snapshot.wiring);
  resizeColumnsToContents();
}

void WiringPanel::on_selection_changed(const std::string& module) {
  const int row = model_.row_of(QString::fromStdString(module));
  if (row < 0 || row == currentIndex().row()) return;
  selectRow(row);
  scrollTo(model_.index(row, 0));
}

}  // namespace replicascope::ui
