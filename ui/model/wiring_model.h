// The replica-to-context wiring as a grid: one row per module index (its context), one column
// per copy. A cell shows the context id, the copy's role, its device and the order in which its
// callback ran; a module missing on a copy or a callback that did not run is flagged red.
#pragma once

#include <QAbstractTableModel>
#include <QStringList>

#include <vector>

#include "engine/engine_types.h"

namespace replicascope::ui {

class WiringModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Role {
    kContextRole = Qt::UserRole + 1,  // int
    kRoleRole,                        // "master" or "slave"
    kDeviceRole,                      // "cpu", "cuda:1"
    kOrderRole,                       // int, -1 when the callback did not run
    kProblemRole,                     // bool
    kModuleRole,                      // qualified module name
  };
  static constexpr int kFixedColumns = 2;  // module, type; then one column per copy

  explicit WiringModel(QObject* parent = nullptr);
  void set_wiring(const std::vector<WiringRow>& rows, const QStringList& devices);
  // The row of a module by qualified name, -1 when there is none.
  int row_of(const QString& module) const;
  int problem_count() const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

 private:
  std::vector<WiringRow> rows_;
  QStringList devices_;
};

}  // namespace replicascope::ui
