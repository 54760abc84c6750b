// SPDX-License-Identifier: GPL-3.0-or-later
#include "itemmodels/wiring_model.h"

#include <QColor>

#include <algorithm>

namespace replicascope::ui {

WiringModel::WiringModel(QObject* parent) : QAbstractTableModel(parent) {}

void WiringModel::set_wiring(const replicascope::Wiring& wiring) {
  beginResetModel();
  wiring_ = wiring;
  endResetModel();
}

int WiringModel::row_of(const QString& module) const {
  const auto name = module.toStdString();
  for (size_t i = 0; i < wiring_.rows.size(); ++i) {
    if (wiring_.rows[i].module == name) return static_cast<int>(i);
  }
  return -1;
}

std::pair<int, int> WiringModel::rank_and_copy(size_t column) const {
  const auto per_rank = static_cast<size_t>(std::max(1, wiring_.copies_per_rank));
  return {static_cast<int>(column / per_rank), static_cast<int>(column % per_rank)};
}

int WiringModel::problem_count() const {
  int count = 0;
  for (const auto& row : wiring_.rows) {
    for (size_t c = 0; c < row.copies.size(); ++c) count += row.problem(c);
  }
  return count;
}

int WiringModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(wiring_.rows.size());
}

int WiringModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kFixedColumns + static_cast<int>(wiring_.devices.size());
}

namespace {

// What a cell means, in a sentence: `who` is "copy 1" or "rank 1 copy 0".
QString cell_tooltip(const replicascope::WiringRow& row, const replicascope::WiringCell& cell,
                     const QString& who, const QString& role_name, const QString& device) {
  const auto module = QString::fromStdString(row.module);
  if (!cell.present) {
    return QString("%1 has no module at index %2 of type %3")
        .arg(who)
        .arg(row.context_id)
        .arg(QString::fromStdString(row.type));
  }
  if (row.expects_callbacks && !cell.called) {
    return QString("%1's replication callback for '%2' did not run").arg(who, module);
  }
  if (!cell.called) return QString("'%1' does not take replication callbacks").arg(module);
  return QString("context %1, %2 (%3) on %4: callback #%5 of the replication")
      .arg(row.context_id)
      .arg(who, role_name, device)
      .arg(cell.order);
}

}  // namespace

QVariant WiringModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= static_cast<int>(wiring_.rows.size())) return {};
  const auto& row = wiring_.rows[index.row()];
  const auto module = QString::fromStdString(row.module);
  if (role == kModuleRole) return module;
  if (role == kContextRole) return row.context_id;
  if (index.column() < kFixedColumns) {
    if (role != Qt::DisplayRole) return {};
    if (index.column() == 0) return module.isEmpty() ? QString("(model)") : module;
    return QString::fromStdString(row.type);
  }
  const auto column = static_cast<size_t>(index.column() - kFixedColumns);
  if (column >= row.copies.size()) return {};
  const auto& cell = row.copies[column];
  const auto [rank, copy] = rank_and_copy(column);
  const QString role_name = copy == 0 ? "master" : "slave";
  const QString device = column < wiring_.devices.size()
                             ? QString::fromStdString(wiring_.devices[column])
                             : QString("?");
  // "copy 1", or "rank 1 copy 0" over several processes.
  const QString who = wiring_.ranks() > 1 ? QString("rank %1 copy %2").arg(rank).arg(copy)
                                          : QString("copy %1").arg(copy);
  switch (role) {
    case Qt::DisplayRole:
      if (!cell.present) return QStringLiteral("missing");
      if (!cell.called) {
        return row.expects_callbacks ? QStringLiteral("no callback") : QStringLiteral("·");
      }
      return QString("ctx %1 · %2 · %3 · #%4")
          .arg(row.context_id)
          .arg(role_name, device)
          .arg(cell.order);
    case Qt::ToolTipRole:
      return cell_tooltip(row, cell, who, role_name, device);
    case Qt::BackgroundRole:
      if (row.problem(column)) return QColor(255, 200, 200);
      if (cell.called) return copy == 0 ? QColor(220, 235, 250) : QColor(235, 245, 235);
      return {};
    case kRoleRole:
      return role_name;
    case kDeviceRole:
      return device;
    case kOrderRole:
      return cell.called ? cell.order : -1;
    case kProblemRole:
      return row.problem(column);
    case kRankRole:
      return rank;
  }
  return {};
}

QVariant WiringModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole) return {};
  if (orientation == Qt::Vertical) {
    return section < static_cast<int>(wiring_.rows.size())
               ? QVariant(wiring_.rows[section].context_id)
               : QVariant();
  }
  if (section == 0) return QStringLiteral("Module");
  if (section == 1) return QStringLiteral("Type");
  const auto column = static_cast<size_t>(section - kFixedColumns);
  if (column >= wiring_.devices.size()) return {};
  const auto [rank, copy] = rank_and_copy(column);
  const auto device = QString::fromStdString(wiring_.devices[column]);
  if (wiring_.ranks() > 1) return QString("rank %1 · copy %2 (%3)").arg(rank).arg(copy).arg(device);
  return QString("copy %1 (%2)").arg(copy).arg(device);
}

}  // namespace replicascope::ui
