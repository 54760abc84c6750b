// SPDX-License-Identifier: GPL-3.0-or-later
// The model's module tree for Qt views: name, readable type, parameters, context id. Built once
// from the flat module list (pre-order with depths), so a large model (resnet50: 150+ modules)
// costs one pass. Synchronized layers are bold; layers with a breakpoint carry a red mark; the
// tooltip of a layer called more than once a step says how many times.
#pragma once

#include <QAbstractItemModel>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "controller/engine_types.h"

namespace replicascope::ui {

class ModuleTreeModel : public QAbstractItemModel {
  Q_OBJECT
 public:
  enum Column { kName, kType, kParameters, kContext, kColumnCount };
  enum Role {
    kQualifiedNameRole = Qt::UserRole + 1,  // "layer1.0.bn1"
    kModuleIndexRole,                       // index in module order (= context id)
    kSynchronizedRole,                      // bool
    kBreakpointRole,                        // bool
  };

  explicit ModuleTreeModel(QObject* parent = nullptr);

  // Replaces the tree. `wiring` gives the context ids (modules without one show none).
  void set_modules(const std::vector<ModelModule>& modules, const std::vector<WiringRow>& wiring);
  void set_breakpoints(const std::set<std::string>& layers);
  // The layers called more than once in a step (each call a sync point), with how many times.
  void set_calls(const std::map<std::string, int64_t>& calls);
  // The index (column 0) of a module by qualified name; invalid when there is none.
  QModelIndex index_of(const std::string& name) const;
  const ModelModule* module_at(const QModelIndex& index) const;

  QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
  QModelIndex parent(const QModelIndex& child) const override;
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

 private:
  struct Node {
    int module = -1;  // index into modules_; -1 for the invisible root
    int parent = -1;  // node index
    int row = 0;      // row under its parent
    std::vector<int> children;
    int context = -1;
  };
  const Node* node(const QModelIndex& index) const;
  std::vector<ModelModule> modules_;
  std::vector<Node> nodes_;  // nodes_[0] is the invisible root; node i + 1 is module i
  std::set<std::string> breakpoints_;
  std::map<std::string, int64_t> calls_;
  QString tooltip(const ModelModule& module, bool breakpoint) const;
};

}  // namespace replicascope::ui
