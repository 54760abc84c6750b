// SPDX-License-Identifier: GPL-3.0-or-later
// The ReplicaScope main window. It only assembles: the panels (each a SessionViewer of one
// SessionContext) as docks around the statistics plots, and the actions in the menus and the
// toolbar. Layout, recent files and the session's settings are remembered with QSettings.
#pragma once

#include <QMainWindow>
#include <QPointer>

#include <optional>
#include <vector>

#include "session/session_context.h"

class QAction;
class QCheckBox;
class QLineEdit;
class QMenu;
class QSpinBox;

namespace replicascope::ui {

class SessionDialog;
class StatisticsView;
class StatusPanel;
class WindowFit;

class MainWindow : public QMainWindow, public SessionViewer {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  SessionContext& context() { return context_; }

  // The built-in demo with the toolbar's devices and batch (Fashion-MNIST when installed).
  void open_demo();
  // --steps: steps the first session trains as soon as it opens. Only the first: a recorded run
  // or a session that fails to open takes them away, and a later session waits for Run.
  void train_first_session(int64_t steps) { first_session_steps_ = steps; }
  // A TorchScript model or a recorded run, by the file's first bytes (else its suffix: .pt,
  // .pth; .sqlite). A model opens
  // with its remembered choices (data, shape, ...; the New session dialog keeps them) unless
  // `with_remembered` is false: the caller set them.
  void open_file(const QString& path, bool with_remembered = true);
  // The command line's session flags (checked already: check_session_spec) on the last
  // session's settings: they train `file`'s model, or with no file --model's or the demo. Like
  // every session, it changes the toolbar and the remembered choices only once it opened. With a
  // recorded run nothing trains: the flags are the next session's, shown in the toolbar at once.
  void open_with_flags(const std::vector<std::pair<std::string, std::string>>& flags,
                       const QString& file);
  // The next session's devices, batch (0: unchanged), data and BatchNorm; an empty devices
  // string leaves them as they are.
  void configure(const QString& devices, int64_t batch, bool synthetic, bool unsynchronized);
  // The next session as the toolbar and the last choices describe it (its model is the one
  // last opened), and a new one (the toolbar follows; nothing opens). The toolbar and the
  // remembered settings change only when a live session opened: a session that fails to open,
  // or a recorded run, leaves them as they were.
  engine::SessionSpec session_spec() const;
  void set_session_spec(const engine::SessionSpec& spec);
  // File > New session: the dialog (not modal to the application: the window goes on) on
  // `model`'s remembered choices ("" and no model: the current session's), or on `shown` with
  // `notice` above its fields. It stays open until the session it starts opened, and says why
  // one did not. One at a time: asking again brings the open one forward with these fields.
  SessionDialog* ask_new_session(const std::optional<QString>& model = std::nullopt);
  SessionDialog* show_session_dialog(const engine::SessionSpec& shown, const QString& notice = {});
  // Apply: the model on screen again with the toolbar's devices, batch and BatchNorm (a
  // recorded run's model with its remembered choices; the demo when nothing is open). Off for a
  // run whose model is not on this machine.
  void apply_toolbar();
  bool can_apply() const;
  // Below 1024x640 the docks that would not fit are hidden, and the status bar says which.
  const WindowFit& fit() const { return *fit_; }
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
  // Opens a live session of `spec` (its model made absolute); what it changes (toolbar,
  // remembered choices, Recent files) changes once it opened.
  void start_session(engine::SessionSpec spec);
  void start_from_dialog(const engine::SessionSpec& spec);
  void remember_recent(const QString& path);
  void forget_recent(const QString& path);
  void rebuild_recent_menu();
  void update_actions();
  void ask_export_plot();
  void ask_export_csv();

  SessionContext context_;
  SessionSetup setup_;                // the last live session that opened (the next one's defaults)
  QString opening_;                   // the file being opened, remembered as recent once it opened
  engine::SessionSpec opening_spec_;  // the live session being opened, remembered once it opened
  // Flags of a session whose data fits the model that could not take the data just given: the
  // error's dialog is the New session dialog holding them.
  QStringList proposed_;
  QPointer<SessionDialog> session_dialog_;  // File > New session, while it shows
  bool failure_in_dialog_ = false;          // the dialog said the open's error: no message box
  int64_t first_session_steps_ = 0;
  WindowFit* fit_ = nullptr;
  StatisticsView* statistics_ = nullptr;
  StatusPanel* status_ = nullptr;
  QMenu* recent_menu_ = nullptr;
  QMenu* view_menu_ = nullptr;
  QAction* run_action_ = nullptr;
  QAction* reload_action_ = nullptr;
  QAction* apply_action_ = nullptr;
  std::vector<QAction*> live_actions_;    // need a live session
  std::vector<QAction*> paused_actions_;  // need copies paused at a breakpoint
  QLineEdit* devices_ = nullptr;
  QSpinBox* batch_ = nullptr;
  QCheckBox* synchronized_ = nullptr;
  QSpinBox* step_count_ = nullptr;
};

}  // namespace replicascope::ui
