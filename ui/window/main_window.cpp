// SPDX-License-Identifier: GPL-3.0-or-later
// The main window's construction: the panels as docks, opening files, settings, drag and drop.
// Its menus and toolbar are in main_window_actions.cpp.
#include "window/main_window.h"

#include <QCheckBox>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileInfo>
#include <QGuiApplication>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMimeData>
#include <QScreen>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <algorithm>
#include <utility>

#include "panels/breakpoint_panel.h"
#include "panels/findings_panel.h"
#include "panels/module_tree_panel.h"
#include "panels/statistics_view.h"
#include "panels/status_panel.h"
#include "panels/wiring_panel.h"
#include "replicascope/base/atomic_write.h"
#include "window/error_dialog.h"
#include "window/file_kind.h"
#include "window/main_window_icons.h"
#include "window/session_dialog.h"
#include "window/window_fit.h"

namespace replicascope::ui {
namespace {

QDockWidget* add_dock(QMainWindow& window, const QString& title, const QString& name,
                      QWidget* content, Qt::DockWidgetArea area) {
  auto* dock = new QDockWidget(title, &window);
  dock->setObjectName(name);  // saveState() keys the layout by it
  dock->setWidget(content);
  window.addDockWidget(area, dock);
  return dock;
}

// How a recorded run was trained, for its title: "cpu:0,cpu:1, batch 16, per-copy BN".
QString trained_with(const ModelSnapshot& run) {
  QStringList parts;
  if (!run.devices.isEmpty()) parts << run.devices.join(',');
  if (run.batch > 0) parts << QString("batch %1").arg(run.batch);
  parts << (run.synchronized ? "synchronized BN" : "per-copy BN");
  return parts.join(", ");
}

// The remembered settings of the next session's copies (the toolbar's, at the next start).
void remember_toolbar(const engine::SessionSpec& spec) {
  QSettings settings;
  settings.setValue("session/devices", QString::fromStdString(spec.devices));
  settings.setValue("session/batch", static_cast<qlonglong>(spec.batch));
  settings.setValue("session/synchronized", spec.synchronized);
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle("ReplicaScope");
  setWindowIcon(application_icon());  // also the About box's
  setAcceptDrops(true);
  QSettings settings;
  setup_.spec.devices = settings.value("session/devices", "cpu:4").toString().toStdString();
  setup_.spec.batch = settings.value("session/batch", 32).toLongLong();
  setup_.spec.synchronized = settings.value("session/synchronized", true).toBool();
  setup_.runs_dir =
      QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/runs";
  build_panels();
  build_file_menu();
  build_debug_menu();
  menuBar()->addMenu(view_menu_);
  build_toolbar();
  build_help_menu();
  context_.add_viewer(this);
  // Never larger than the screen: what is past its edge cannot be used.
  const auto* screen = QGuiApplication::primaryScreen();
  const auto room = screen ? screen->availableSize() : QSize(1400, 900);
  resize(std::min(1400, room.width()), std::min(900, room.height()));
  restoreGeometry(settings.value("window/geometry").toByteArray());
  restoreState(settings.value("window/state").toByteArray());
  update_actions();
}

MainWindow::~MainWindow() {
  context_.remove_viewer(this);
}

void MainWindow::build_panels() {
  statistics_ = new StatisticsView(context_, this);
  setCentralWidget(statistics_);
  view_menu_ = new QMenu("&View", this);
  auto* modules =
      add_dock(*this, "Modules", "modules", new ModuleTreePanel(context_), Qt::LeftDockWidgetArea);
  auto* wiring =
      add_dock(*this, "Wiring", "wiring", new WiringPanel(context_), Qt::BottomDockWidgetArea);
  auto* breakpoint = add_dock(*this, "Breakpoint", "breakpoint", new BreakpointPanel(context_),
                              Qt::RightDockWidgetArea);
  // A tab beside Wiring; it comes forward by itself at a session's first warning or error.
  auto* findings = add_dock(*this, "Findings", "findings", new FindingsPanel(context_),
                            Qt::BottomDockWidgetArea);
  tabifyDockWidget(wiring, findings);
  wiring->raise();
  for (auto* dock : {modules, wiring, findings, breakpoint})
    view_menu_->addAction(dock->toggleViewAction());
  // First-run sizes; restoreState() replaces them with the user's.
  resizeDocks({modules, breakpoint}, {260, 340}, Qt::Horizontal);
  resizeDocks({wiring}, {200}, Qt::Vertical);
  status_ = new StatusPanel(context_, *statusBar());
  fit_ = new WindowFit(*this, *modules, {breakpoint, wiring}, *statusBar());
}

void MainWindow::configure(const QString& devices, int64_t batch, bool synthetic,
                           bool unsynchronized) {
  auto spec = session_spec();
  if (!devices.isEmpty()) spec.devices = devices.toStdString();
  if (batch > 0) spec.batch = batch;
  spec.data = synthetic ? "synthetic" : "";
  spec.synchronized = !unsynchronized;
  set_session_spec(spec);
}

engine::SessionSpec MainWindow::session_spec() const {
  auto spec = setup_.spec;
  spec.devices = devices_->text().trimmed().toStdString();
  spec.batch = batch_->value();
  spec.synchronized = synchronized_->isChecked();
  return spec;
}

void MainWindow::set_session_spec(const engine::SessionSpec& spec) {
  setup_.spec = spec;
  devices_->setText(QString::fromStdString(spec.devices));
  batch_->setValue(static_cast<int>(spec.batch));
  synchronized_->setChecked(spec.synchronized);
}

void MainWindow::save_screenshot(const QString& path) {
  const auto image = grab().toImage();
  write_atomically(path.toStdString(), [&](const std::string& temporary) {
    if (!image.save(QString::fromStdString(temporary), "PNG")) {
      throw std::runtime_error("Qt could not write the PNG");
    }
  });
}

void MainWindow::open_demo() {
  auto spec = session_spec();
  spec.model.clear();
  spec.output.clear();  // the element of another model's tuple
  start_session(spec);
}

void MainWindow::open_file(const QString& path, bool with_remembered) {
  const auto kind = kind_of(path);
  if (kind == FileKind::unknown) {
    context_.report_error(not_openable(path));
    return;
  }
  if (kind == FileKind::run) {
    opening_ = QFileInfo(path).absoluteFilePath();  // into Recent files once it opened
    status_->set_state("opening " + QFileInfo(path).fileName() + "...");
    context_.open_run(path);
    return;
  }
  // A model opens with the data, shape and choices it last trained with, unless the caller
  // chose them (the command line's flags, Apply).
  const auto model = QFileInfo(path).absoluteFilePath().toStdString();
  auto spec = with_remembered ? remembered_session(model, session_spec()) : session_spec();
  if (spec.model != model) spec.output.clear();  // the element of another model's tuple
  spec.model = model;
  start_session(spec);
}

void MainWindow::open_with_flags(const std::vector<std::pair<std::string, std::string>>& flags,
                                 const QString& file) {
  auto spec = session_spec();
  const bool trains = file.isEmpty() || kind_of(file) == FileKind::model;
  if (trains) {
    spec.model.clear();   // the demo unless --model or the file names one
    spec.output.clear();  // the last model's tuple element: --output's or auto
  }
  for (const auto& [name, value] : flags) engine::set_session_flag(spec, name, value);
  if (!trains) {
    set_session_spec(spec);  // a run is viewed, nothing trains: the flags are the next session's
    open_file(file);
    return;
  }
  if (!file.isEmpty()) spec.model = file.toStdString();
  start_session(spec);
}

void MainWindow::start_session(engine::SessionSpec spec) {
  const QFileInfo model(QString::fromStdString(spec.model));
  if (!spec.model.empty()) spec.model = model.absoluteFilePath().toStdString();
  opening_ = spec.model.empty() ? QString() : model.absoluteFilePath();
  status_->set_state(spec.model.empty() ? QString("opening the demo...")
                                        : "opening " + model.fileName() + "...");
  opening_spec_ = spec;
  context_.open({spec, setup_.runs_dir});
}

void MainWindow::start_from_dialog(const engine::SessionSpec& spec) {
  if (!spec.model.empty() && kind_of(QString::fromStdString(spec.model)) != FileKind::model) {
    session_dialog_->session_failed(
        QString("model '%1': expected a TorchScript model (.pt or .pth); File > Open opens a "
                "recorded run")
            .arg(QString::fromStdString(spec.model)));
    return;
  }
  start_session(spec);
}

SessionDialog* MainWindow::ask_new_session(const std::optional<QString>& model) {
  const auto current = session_spec();
  return show_session_dialog(
      remembered_session(model ? model->toStdString() : current.model, current));
}

SessionDialog* MainWindow::show_session_dialog(const engine::SessionSpec& shown,
                                               const QString& notice) {
  if (!session_dialog_) {
    session_dialog_ = new SessionDialog(shown, this);
    session_dialog_->setAttribute(Qt::WA_DeleteOnClose);
    connect(session_dialog_, &SessionDialog::startRequested, this, &MainWindow::start_from_dialog);
  } else {
    session_dialog_->show_spec(shown);
  }
  session_dialog_->set_notice(notice);
  session_dialog_->open();  // window-modal; returns at once
  session_dialog_->raise();
  return session_dialog_;
}

void MainWindow::on_opened(const ModelSnapshot& snapshot) {
  const auto model = QFileInfo(snapshot.source).fileName();
  if (snapshot.live) {
    setWindowTitle(QString("ReplicaScope - %1").arg(model));
    // Now that it opened, this session's choices are the next one's defaults.
    set_session_spec(opening_spec_);
    remember_session(opening_spec_);  // this model's choices, for the New session dialog
    remember_toolbar(opening_spec_);
    if (session_dialog_ && session_dialog_->starting()) session_dialog_->session_opened();
    // Which element of forward()'s tuple trains, once (the status panel cleared the bar first).
    if (!snapshot.notice.isEmpty()) statusBar()->showMessage(snapshot.notice);
    if (const auto steps = std::exchange(first_session_steps_, 0); steps > 0) context_.step(steps);
  } else {
    // A recorded run is named by its file, with how it was trained; the toolbar keeps the next
    // session's settings (viewing a run changes nothing of what trains next).
    setWindowTitle(QString("ReplicaScope - %1 (a run of %2: %3)")
                       .arg(QFileInfo(snapshot.run_path).fileName(), model.isEmpty() ? "?" : model,
                            trained_with(snapshot)));
    first_session_steps_ = 0;  // a run is viewed, not trained
  }
  if (!opening_.isEmpty()) remember_recent(opening_);
  opening_.clear();
  update_actions();
}

void MainWindow::on_open_failed(const QString& what, const QStringList& proposed) {
  // A file that did not open is not one to reopen (errors of the open session leave it alone).
  if (!opening_.isEmpty()) forget_recent(opening_);
  opening_.clear();
  first_session_steps_ = 0;  // --steps was for that session
  if (session_dialog_ && session_dialog_->starting()) {
    // The dialog that asked says it, and keeps its fields (or holds data the model can take).
    std::optional<engine::SessionSpec> proposal;
    try {
      if (!proposed.isEmpty()) proposal = session_from_flags(proposed);
    } catch (const std::exception&) {
      // flags this version cannot read: the error alone
    }
    session_dialog_->session_failed(what, proposal);
    failure_in_dialog_ = true;
    return;
  }
  proposed_ = proposed;  // on_error, next, offers it
}

void MainWindow::on_error(const QString& what) {
  update_actions();
  // Offscreen (tests, CI) nobody can close a dialog: the status bar and stderr say it.
  qWarning("replicascope: %s", qPrintable(what));
  const auto proposed = std::exchange(proposed_, {});
  if (std::exchange(failure_in_dialog_, false)) return;  // the New session dialog said it
  if (QGuiApplication::platformName() == "offscreen") return;
  if (!proposed.isEmpty()) {
    // The model cannot take the data: the dialog to change it, holding data that fits.
    try {
      const auto proposal = session_from_flags(proposed);
      show_session_dialog(proposal)->session_failed(what, proposal);
      return;
    } catch (const std::exception&) {
      // flags this version cannot read: the plain error below
    }
  }
  show_error(this, what);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  context_.stop();  // copies paused at a breakpoint go on, so the engine thread can end
  QSettings settings;
  settings.setValue("window/geometry", saveGeometry());
  settings.setValue("window/state", saveState());
  event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  const auto urls = event->mimeData()->urls();
  if (urls.size() == 1 && urls[0].isLocalFile() &&
      kind_of(urls[0].toLocalFile()) != FileKind::unknown) {
    event->acceptProposedAction();
  }
}

void MainWindow::dropEvent(QDropEvent* event) {
  open_file(event->mimeData()->urls().at(0).toLocalFile());
  event->acceptProposedAction();
}

}  // namespace replicascope::ui
