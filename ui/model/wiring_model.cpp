#include "model/wiring_model.h"

#include <QColor>

namespace replicascope::ui {

WiringModel::WiringModel(QObject* parent) : QAbstractTableModel(parent) {}

void WiringModel::set_wiring(const std::vector<WiringRow>& rows, const QStringList& devices) {
  beginResetModel();
  rows_ = rows;
  devices_ = devices;
  endResetModel();
}

int WiringModel::row_of(const QString& module) const {
  for (size_t i = 0; i < rows_.size(); ++i) {
    if (rows_[i].module == module) return static_cast<int>(i);
  }
  return -1;
}

int WiringModel::problem_count() const {
  int count = 0;
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.copies.size(); ++c) count += row.problem(c);
  }
  return count;
}

int WiringModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int WiringModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kFixedColumns + static_cast<int>(devices_.size());
}

QVariant WiringModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= static_cast<int>(rows_.size())) return {};
  const auto& row = rows_[index.row()];
  if (role == kModuleRole) return row.module;
  if (role == kContextRole) return row.context_id;
  if (index.column() < kFixedColumns) {
    if (role != Qt::DisplayRole) return {};
    if (index.column() == 0) return row.module.isEmpty() ? QString("(model)") : row.module;
    return row.type;
  }
  const auto copy = static_cast<size_t>(index.column() - kFixedColumns);
  if (copy >= row.copies.size()) return {};
  const auto& cell = row.copies[copy];
  const QString role_name = copy == 0 ? "master" : "slave";
  const QString device = copy < static_cast<size_t>(devices_.size()) ? devices_[copy] : "?";
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
      if (!cell.present)
        return QString("copy %1 has no module at index %2 of type %3")
            .arg(copy)
            .arg(row.context_id)
            .arg(row.type);
      if (row.expects_callbacks && !cell.called) {
        return QString("copy %1's replication callback for '%2' did not run")
            .arg(copy)
            .arg(row.module);
      }
      if (!cell.called) return QString("'%1' does not take replication callbacks").arg(row.module);
      return QString("context %1, copy %2 (%3) on %4: callback #%5 of the replication")
          .arg(row.context_id)
          .arg(copy)
          .arg(role_name, device)
          .arg(cell.order);
    case Qt::BackgroundRole:
      if (row.problem(copy)) return QColor(255, 200, 200);
      if (cell.called) return copy == 0 ? QColor(220, 235, 250) : QColor(235, 245, 235);
      return {};
    case kRoleRole:
      return role_name;
    case kDeviceRole:
      return device;
    case kOrderRole:
      return cell.called ? cell.order : -1;
    case kProblemRole:
      return row.problem(copy);
  }
  return {};
}

QVariant WiringModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole) return {};
  if (orientation == Qt::Vertical) {
    return section < static_cast<int>(rows_.size()) ? QVariant(rows_[section].context_id)
                                                    : QVariant();
  }
  if (section == 0) return QStringLiteral("Module");
  if (section == 1) return QStringLiteral("Type");
  const int copy = section - kFixedColumns;
  return copy < devices_.size() ? QString("copy %1 (%2)").arg(copy).arg(devices_[copy])
                                : QVariant();
}

}  // namespace replicascope::ui
