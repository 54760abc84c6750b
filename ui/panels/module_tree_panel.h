// SPDX-License-Identifier: GPL-3.0-or-later
// The Modules panel: the model's module tree (name, type, parameters, context id) with a search
// over full dotted names and types. Selecting a row makes it the session's current module. It
// keeps a minimum width (the window never squeezes it to nothing) and its name column fits the
// rows shown.
#pragma once

#include <QWidget>

#include "itemmodels/module_filter.h"
#include "itemmodels/module_tree_model.h"
#include "session/session_viewer.h"

class QLineEdit;
class QTreeView;

namespace replicascope::ui {

class SessionContext;

class ModuleTreePanel : public QWidget, public SessionViewer {
  Q_OBJECT
 public:
  static constexpr int kMinimumWidthChars = 24;  // in average characters of the font
  explicit ModuleTreePanel(SessionContext& context, QWidget* parent = nullptr);
  ~ModuleTreePanel() override;

  ModuleTreeModel& model() { return model_; }
  ModuleFilter& filter() { return filter_; }
  QTreeView* view() const { return tree_; }
  QLineEdit* search() const { return search_; }

  void on_opened(const ModelSnapshot& snapshot) override;
  // A layer's calls per step are known from its steps (a recorded run's, or a live step).
  void on_stepped(const replicascope::StepRecord&) override;
  void on_run_grew(const ModelSnapshot&) override;
  void on_selection_changed(const std::string& module) override;
  void on_breakpoints_changed(const std::set<std::string>& layers) override;

 private:
  void fit_names();  // the name column as wide as the names shown
  SessionContext& context_;
  ModuleTreeModel model_;
  ModuleFilter filter_;
  QLineEdit* search_ = nullptr;
  QTreeView* tree_ = nullptr;
};

}  // namespace replicascope::ui
