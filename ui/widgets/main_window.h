// The ReplicaScope main window: the module tree, the wiring grid and the breakpoint panel as
// dockable panels around the statistics plots; training controls in a toolbar and the Debug
// menu; step, loss and steps/s in the status bar. Layout, recent files and the session's
// settings are remembered with QSettings.
#pragma once

#include <QElapsedTimer>
#include <QMainWindow>
#include <QSortFilterProxyModel>

#include <deque>

#include "engine/engine_controller.h"
#include "model/module_tree_model.h"
#include "model/stats_history.h"
#include "model/wiring_model.h"

class QAbstractItemView;
class QAction;
class QCheckBox;
class QLabel;
class QLineEdit;
class QMenu;
class QSpinBox;
class QTableView;
class QTreeView;

namespace replicascope::ui {

class BreakpointPanel;
class StatisticsView;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // The built-in demo with the toolbar's devices and batch (Fashion-MNIST when installed).
  void open_demo();
  // A TorchScript model (.pt) or a recorded run (.sqlite), by the file's suffix.
  void open_file(const QString& path);
  // Draws another run's series faded under this one's (sync versus unsync); empty clears it.
  void compare_with(const QString& run_path);
  void select_layer(const std::string& layer);
  // The next session's devices, batch (0: unchanged), data and BatchNorm; an empty devices
  // string leaves them as they are.
  void configure(const QString& devices, int64_t batch, bool synthetic, bool unsynchronized);
  // Saves the window as a PNG (atomically); throws std::runtime_error when it cannot.
  void save_screenshot(const QString& path);
  // Exports of the current plot (throw std::runtime_error naming the file when they fail).
  void export_plot(const QString& path, int width, int height);
  void export_csv(const QString& path);

  EngineController& engine() { return engine_; }
  const StatsHistory& history() const { return history_; }
  StatisticsView* statistics() const { return statistics_; }
  BreakpointPanel* breakpoint_panel() const { return breakpoints_; }
  ModuleTreeModel& tree_model() { return tree_model_; }
  QSortFilterProxyModel& tree_filter() { return tree_filter_; }
  WiringModel& wiring_model() { return wiring_model_; }
  QTreeView* tree_view() const { return tree_; }
  QTableView* wiring_view() const { return wiring_; }
  QString status_text() const;

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void build_panels();
  void build_actions();
  void connect_engine();
  void on_opened(const ModelSnapshotPtr& snapshot);
  void on_stepped(const StepRecordPtr& record);
  void request_series();
  void sync_selection_from_tree(const QModelIndex& proxy_index);
  void sync_selection_from_wiring(const QModelIndex& index);
  void toggle_breakpoint_at(const QString& module);
  void show_context_menu(const QString& module, const QPoint& global);
  // The breakpoint menu on right-click in `view`, whose items give the module under `module_role`.
  void add_breakpoint_menu(QAbstractItemView* view, int module_role);
  void remember_recent(const QString& path);
  void rebuild_recent_menu();
  void update_controls();
  void ask_export_plot();
  void ask_export_csv();
  void show_error(const QString& what);

  EngineController engine_;
  StatsHistory history_;
  ModuleTreeModel tree_model_;
  QSortFilterProxyModel tree_filter_;
  WiringModel wiring_model_;
  SessionSpec spec_;
  ModelSnapshotPtr snapshot_;
  QString overlay_path_;
  bool syncing_selection_ = false;

  StatisticsView* statistics_ = nullptr;
  BreakpointPanel* breakpoints_ = nullptr;
  QTreeView* tree_ = nullptr;
  QLineEdit* search_ = nullptr;
  QTableView* wiring_ = nullptr;
  QLineEdit* devices_ = nullptr;
  QSpinBox* batch_ = nullptr;
  QCheckBox* synchronized_ = nullptr;
  QSpinBox* step_count_ = nullptr;
  QLabel* status_step_ = nullptr;
  QLabel* status_loss_ = nullptr;
  QLabel* status_speed_ = nullptr;
  QLabel* status_state_ = nullptr;
  QMenu* recent_menu_ = nullptr;
  QMenu* view_menu_ = nullptr;
  QAction* run_action_ = nullptr;
  std::vector<QAction*> live_actions_;    // need a live session
  std::vector<QAction*> paused_actions_;  // need copies paused at a breakpoint
  std::deque<qint64> step_times_ms_;      // for steps/s
  QElapsedTimer clock_;
};

}  // namespace replicascope::ui
