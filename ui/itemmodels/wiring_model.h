// SPDX-License-Identifier: GPL-3.0-or-later
// The replica-to-context wiring as a grid: one row per module index (its context), one column
// per copy, and over several processes one per rank and copy (ranks x copies). A cell shows the
// context id, the copy's role in its process, its device and the order in which its callback
// ran; a module missing on a copy or a callback that did not run is flagged red.
#pragma once

#include <QAbstractTableModel>
#include <QStringList>

#include <vector>

#include "controller/engine_types.h"

namespace replicascope::ui {

class WiringModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Role {
    kContextRole = Qt::UserRole + 1,  // int
    kRoleRole,                        // "master" or "slave" (within its process)
    kDeviceRole,                      // "cpu", "cuda:1"
    kOrderRole,                       // int, -1 when the callback did not run
    kProblemRole,                     // bool
    kModuleRole,                      // qualified module name
    kRankRole,                        // int, the process
  };
  static constexpr int kFixedColumns = 2;  // module, type; then one column per rank and copy

  explicit WiringModel(QObject* parent = nullptr);
  void set_wiring(const replicascope::Wiring& wiring);
  // The row of a module by qualified name, -1 when there is none.
  int row_of(const QString& module) const;
  int problem_count() const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

 private:
  // Rank and copy within the rank of a column's cell.
  std::pair<int, int> rank_and_copy(size_t column) const;
  replicascope::Wiring wiring_;
};

}  // namespace replicascope::ui
