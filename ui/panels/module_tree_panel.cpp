// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/module_tree_panel.h"

#include <QHeaderView>
#include <QLineEdit>
#include <QTreeView>
#include <QVBoxLayout>

#include "panels/breakpoint_menu.h"
#include "session/session_context.h"

namespace replicascope::ui {

ModuleTreePanel::ModuleTreePanel(SessionContext& context, QWidget* parent)
    : QWidget(parent), context_(context) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  // However the window squeezes its docks, the tree keeps room for names ("layer4.1.bn2").
  setMinimumWidth(kMinimumWidthChars * fontMetrics().averageCharWidth());
  search_ = new QLineEdit;
  search_->setPlaceholderText("search modules: dotted name (layer2.0) or type");
  search_->setClearButtonEnabled(true);
  filter_.setSourceModel(&model_);
  tree_ = new QTreeView;
  tree_->setModel(&filter_);
  tree_->setUniformRowHeights(true);  // fast with thousands of rows
  tree_->header()->setSectionResizeMode(QHeaderView::Interactive);
  layout->addWidget(search_);
  layout->addWidget(tree_, 1);
  connect(search_, &QLineEdit::textChanged, this, [this](const QString& text) {
    filter_.set_search(text);
    if (!text.isEmpty()) tree_->expandAll();
    fit_names();
  });
  // Deeper rows are indented further: the name column follows what is expanded, so a name is
  // shown whole, never as "...".
  connect(tree_, &QTreeView::expanded, this, &ModuleTreePanel::fit_names);
  connect(tree_, &QTreeView::collapsed, this, &ModuleTreePanel::fit_names);
  connect(tree_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            if (const auto* module = model_.module_at(filter_.mapToSource(current)))
              context_.select(module->name);
          });
  add_breakpoint_menu(context_, tree_, ModuleTreeModel::kQualifiedNameRole);
  context_.add_viewer(this);
}

ModuleTreePanel::~ModuleTreePanel() {
  context_.remove_viewer(this);
}

void ModuleTreePanel::on_opened(const ModelSnapshot& snapshot) {
  model_.set_modules(snapshot.modules, snapshot.wiring.rows);
  model_.set_calls(context_.history().call_counts());
  tree_->expandToDepth(1);
  // Type and Context would be cut off at the header's default widths.
  for (int column = 0; column < ModuleTreeModel::kColumnCount; ++column)
    tree_->resizeColumnToContents(column);
}

void ModuleTreePanel::on_stepped(const replicascope::StepRecord&) {
  model_.set_calls(context_.history().call_counts());
}

void ModuleTreePanel::on_run_grew(const ModelSnapshot&) {
  model_.set_calls(context_.history().call_counts());
}

void ModuleTreePanel::fit_names() {
  tree_->resizeColumnToContents(ModuleTreeModel::kName);
}

void ModuleTreePanel::on_selection_changed(const std::string& module) {
  // Setting the row it already has emits nothing, so this does not come back here.
  const auto index = filter_.mapFromSource(model_.index_of(module));
  if (index.isValid() && index != tree_->currentIndex()) tree_->setCurrentIndex(index);
}

void ModuleTreePanel::on_breakpoints_changed(const std::set<std::string>& layers) {
  model_.set_breakpoints(layers);
}

}  // namespace replicascope::ui
