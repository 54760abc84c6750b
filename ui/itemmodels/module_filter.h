// SPDX-License-Identifier: GPL-3.0-or-later
// The module tree's search: a module is shown when its full dotted name ("layer2.0.downsample")
// or its type contains the text, when it is inside a match (a matched block keeps its layers
// visible), or when a match is inside it (the path to a match stays visible).
#pragma once

#include <QSortFilterProxyModel>

namespace replicascope::ui {

class ModuleFilter : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  explicit ModuleFilter(QObject* parent = nullptr);
  // Case-insensitive; empty shows everything.
  void set_search(const QString& text);

 protected:
  bool filterAcceptsRow(int row, const QModelIndex& parent) const override;

 private:
  bool matches(const QModelIndex& index) const;
  QString search_;
};

}  // namespace replicascope::ui
