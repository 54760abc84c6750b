// SPDX-License-Identifier: GPL-3.0-or-later
#include "itemmodels/module_tree_model.h"

#include <QColor>
#include <QFont>
#include <QLocale>
#include <unordered_map>

namespace replicascope::ui {

ModuleTreeModel::ModuleTreeModel(QObject* parent) : QAbstractItemModel(parent) {
  nodes_.resize(1);
}

void ModuleTreeModel::set_modules(const std::vector<ModelModule>& modules,
                                  const std::vector<WiringRow>& wiring) {
  beginResetModel();
  modules_ = modules;
  nodes_.assign(modules_.size() + 1, Node{});
  std::unordered_map<std::string, int> contexts;
  for (const auto& row : wiring) contexts.emplace(row.module, row.context_id);
  // Pre-order with depths: a module's parent is the nearest earlier module one level up.
  std::vector<int> open_at_depth{0};
  for (size_t i = 0; i < modules_.size(); ++i) {
    const int id = static_cast<int>(i) + 1;
    const int depth = std::max(0, modules_[i].depth);
    open_at_depth.resize(std::min<size_t>(open_at_depth.size(), depth + 1));
    const int parent = open_at_depth.back();
    auto& n = nodes_[id];
    n.module = static_cast<int>(i);
    n.parent = parent;
    n.row = static_cast<int>(nodes_[parent].children.size());
    const auto ctx = contexts.find(modules_[i].name);
    n.context = ctx == contexts.end() ? -1 : ctx->second;
    nodes_[parent].children.push_back(id);
    open_at_depth.push_back(id);
  }
  endResetModel();
}

void ModuleTreeModel::set_breakpoints(const std::set<std::string>& layers) {
  auto changed = breakpoints_;
  changed.insert(layers.begin(), layers.end());
  breakpoints_ = layers;
  for (const auto& name : changed) {
    const auto at = index_of(name);
    if (at.isValid()) emit dataChanged(at, at.siblingAtColumn(kColumnCount - 1));
  }
}

void ModuleTreeModel::set_calls(const std::map<std::string, int64_t>& calls) {
  if (calls == calls_) return;
  auto changed = calls_;
  changed.insert(calls.begin(), calls.end());
  calls_ = calls;
  for (const auto& [name, count] : changed) {
    const auto at = index_of(name);
    if (at.isValid()) emit dataChanged(at, at.siblingAtColumn(kColumnCount - 1), {Qt::ToolTipRole});
  }
}

QString ModuleTreeModel::tooltip(const ModelModule& m, bool breakpoint) const {
  const auto calls = calls_.find(m.name);
  return QString("%1 (%2)%3%4%5")
      .arg(QString::fromStdString(m.name.empty() ? "(model)" : m.name),
           QString::fromStdString(m.full_type),
           m.synchronized ? "\nsynchronized BatchNorm: right-click to set a breakpoint" : "",
           calls == calls_.end()
               ? QString()
               : QString("\ncalled %1 times per step: %1 sync points, each with batch "
                         "statistics of its own\n(the statistics panel's call selector picks "
                         "one); its running statistics are one buffer every call updates")
                     .arg(calls->second),
           breakpoint ? "\nbreakpoint: every copy pauses at its sync point" : "");
}

QModelIndex ModuleTreeModel::index_of(const std::string& name) const {
  for (size_t i = 0; i < modules_.size(); ++i) {
    if (modules_[i].name == name) {
      const auto& n = nodes_[i + 1];
      return createIndex(n.row, 0, static_cast<quintptr>(i + 1));
    }
  }
  return {};
}

const ModuleTreeModel::Node* ModuleTreeModel::node(const QModelIndex& index) const {
  if (!index.isValid()) return &nodes_[0];
  const auto id = static_cast<size_t>(index.internalId());
  return id < nodes_.size() ? &nodes_[id] : nullptr;
}

const ModelModule* ModuleTreeModel::module_at(const QModelIndex& index) const {
  const auto* n = node(index);
  return n && n->module >= 0 ? &modules_[n->module] : nullptr;
}

QModelIndex ModuleTreeModel::index(int row, int column, const QModelIndex& parent) const {
  const auto* p = node(parent);
  if (!p || row < 0 || row >= static_cast<int>(p->children.size()) || column < 0 ||
      column >= kColumnCount) {
    return {};
  }
  return createIndex(row, column, static_cast<quintptr>(p->children[row]));
}

QModelIndex ModuleTreeModel::parent(const QModelIndex& child) const {
  const auto* n = node(child);
  if (!child.isValid() || !n || n->parent <= 0) return {};
  const auto& p = nodes_[n->parent];
  return createIndex(p.row, 0, static_cast<quintptr>(n->parent));
}

int ModuleTreeModel::rowCount(const QModelIndex& parent) const {
  if (parent.column() > 0) return 0;
  const auto* n = node(parent);
  return n ? static_cast<int>(n->children.size()) : 0;
}

int ModuleTreeModel::columnCount(const QModelIndex&) const {
  return kColumnCount;
}

QVariant ModuleTreeModel::data(const QModelIndex& index, int role) const {
  const auto* n = node(index);
  if (!index.isValid() || !n || n->module < 0) return {};
  const auto& m = modules_[n->module];
  const bool breakpoint = breakpoints_.count(m.name) != 0;
  switch (role) {
    case Qt::DisplayRole:
      switch (index.column()) {
        case kName: {
          if (m.name.empty()) return QStringLiteral("(model)");
          const auto dot = m.name.rfind('.');
          return QString::fromStdString(dot == std::string::npos ? m.name : m.name.substr(dot + 1));
        }
        case kType:
          return QString::fromStdString(m.type);
        case kParameters:  // unknown (negative) for a recorded run
          if (m.subtree_parameter_count < 0) return QVariant();
          return QLocale().toString(static_cast<qlonglong>(m.subtree_parameter_count));
        case kContext:
          return n->context >= 0 ? QVariant(n->context) : QVariant();
      }
      return {};
    case Qt::ToolTipRole:
      return tooltip(m, breakpoint);
    case Qt::FontRole:
      if (m.synchronized) {
        QFont font;
        font.setBold(true);
        return font;
      }
      return {};
    case Qt::DecorationRole:
      if (index.column() == kName && breakpoint) return QColor(200, 30, 30);
      return {};
    case kQualifiedNameRole:
      return QString::fromStdString(m.name);
    case kModuleIndexRole:
      return n->module;
    case kSynchronizedRole:
      return m.synchronized;
    case kBreakpointRole:
      return breakpoint;
  }
  return {};
}

QVariant ModuleTreeModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* const names[] = {"Module", "Type", "Parameters", "Context"};
  return section >= 0 && section < kColumnCount ? QString(names[section]) : QVariant();
}

}  // namespace replicascope::ui
