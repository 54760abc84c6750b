// SPDX-License-Identifier: GPL-3.0-or-later
#include "itemmodels/module_filter.h"

#include "itemmodels/module_tree_model.h"

namespace replicascope::ui {

ModuleFilter::ModuleFilter(QObject* parent) : QSortFilterProxyModel(parent) {
  setRecursiveFilteringEnabled(true);  // a match keeps its ancestors
}

void ModuleFilter::set_search(const QString& text) {
  search_ = text.trimmed();
  invalidateFilter();
}

bool ModuleFilter::matches(const QModelIndex& index) const {
  const auto name = index.data(ModuleTreeModel::kQualifiedNameRole).toString();
  const auto type = index.siblingAtColumn(ModuleTreeModel::kType).data().toString();
  return name.contains(search_, Qt::CaseInsensitive) || type.contains(search_, Qt::CaseInsensitive);
}

bool ModuleFilter::filterAcceptsRow(int row, const QModelIndex& parent) const {
  if (search_.isEmpty()) return true;
  const auto index = sourceModel()->index(row, 0, parent);
  // Itself or an enclosing module; recursive filtering adds the ancestors of a match.
  for (auto at = index; at.isValid(); at = at.parent()) {
    if (matches(at)) return true;
  }
  return false;
}

}  // namespace replicascope::ui
