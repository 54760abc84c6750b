// The ReplicaScope main window. It only assembles: the panels (each a SessionViewer of one
// SessionContext) as docks around the statistics plots, and the actions in the menus and the
// toolbar. Layout, recent files and the session's settings are remembered with QSettings.
#pragma once

#include <QMainWindow>

#include <optional>
#include <vector>

#include "session/session_context.h"

class QAction;
class QCheckBox;
class QLineEdit;
class QMenu;
class QSpinBox;

namespace replicascope::ui {

class StatisticsView;
class StatusPanel;

class MainWindow : public QMainWindow, public SessionViewer {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  SessionContext& context() { return context_; }

  // The built-in demo with the toolbar's devices and batch (Fashion-MNIST when installed).
  void open_demo();
  // A TorchScript model (.pt) or a recorded run (.sqlite), by the file's suffix. A model opens
  // with its remembered choices (data, shape, ...; the New session dialog keeps them) unless
  // `with_remembered` is false: the caller set them.
  void open_file(const QString& path, bool with_remembered = true);
  // The next session's devices, batch (0: unchanged), data and BatchNorm; an empty devices
  // string leaves them as they are.
  void configure(const QString& devices, int64_t batch, bool synthetic, bool unsynchronized);
  // The next session as the toolbar and the last choices describe it (its model is the one
  // last opened), and a new one (the toolbar follows; nothing opens).
  engine::SessionSpec session_spec() const;
  void set_session_spec(const engine::SessionSpec& spec);
  // Help > Keyboard shortcuts and Help > About: every menu action with a shortcut, from the
  // menus themselves (so the list cannot go stale); the versions of this build, Qt, LibTorch.
  QString shortcuts_text() const;
  QString about_text() const;
  // Saves the window as a PNG (atomically); throws std::runtime_error when it cannot.
  void save_screenshot(const QString& path);
  // Exports of the current plot (throw std::runtime_error naming the file when they fail).
  void export_plot(const QString& path, int width, int height);
  void export_csv(const QString& path);

  // The actions' state follows the session.
  void on_opened(const ModelSnapshot& snapshot) override;
  void on_running_changed(bool) override { update_actions(); }
  void on_paused(const BreakpointHit&) override { update_actions(); }
  void on_resumed() override { update_actions(); }
  void on_error(const QString& what) override;
  void on_open_failed(const QString& what, const QStringList& proposed) override;

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void build_panels();
  void build_file_menu();
  void build_debug_menu();
  void build_toolbar();
  void build_help_menu();
  // Opens setup_ with the toolbar's devices, batch and BatchNorm.
  void open_session();
  // The New session dialog, on `model`'s remembered choices ("" and no model: the current
  // session's); starts the session chosen.
  void ask_new_session(const std::optional<QString>& model = std::nullopt);
  // The dialog on `shown` with `notice` above its fields; starts the session chosen.
  void run_session_dialog(const engine::SessionSpec& shown, const QString& notice = {});
  void remember_recent(const QString& path);
  void forget_recent(const QString& path);
  void rebuild_recent_menu();
  void update_actions();
  void ask_export_plot();
  void ask_export_csv();

  SessionContext context_;
  SessionSetup setup_;
  QString opening_;                   // the file being opened, remembered as recent once it opened
  engine::SessionSpec opening_spec_;  // the live session being opened, remembered once it opened
  // Flags of a session whose data fits the model that could not take the data just given: the
  // error's dialog is the New session dialog holding them.
  QStringList proposed_;
  StatisticsView* statistics_ = nullptr;
  StatusPanel* status_ = nullptr;
  QMenu* recent_menu_ = nullptr;
  QMenu* view_menu_ = nullptr;
  QAction* run_action_ = nullptr;
  QAction* reload_action_ = nullptr;
  std::vector<QAction*> live_actions_;    // need a live session
  std::vector<QAction*> paused_actions_;  // need copies paused at a breakpoint
  QLineEdit* devices_ = nullptr;
  QSpinBox* batch_ = nullptr;
  QCheckBox* synchronized_ = nullptr;
  QSpinBox* step_count_ = nullptr;
};

}  // namespace replicascope::ui
