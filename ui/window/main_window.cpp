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
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTimer>
#include <utility>

#include "panels/breakpoint_panel.h"
#include "panels/module_tree_panel.h"
#include "panels/statistics_view.h"
#include "panels/status_panel.h"
#include "panels/wiring_panel.h"
#include "replicascope/base/atomic_write.h"
#include "window/error_dialog.h"
#include "window/session_dialog.h"

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

bool is_openable(const QString& path) {
  const auto suffix = QFileInfo(path).suffix().toLower();
  return suffix == "pt" || suffix == "pth" || suffix == "sqlite";
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle("ReplicaScope");
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
  resize(1400, 900);
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
  for (auto* dock : {modules, wiring, breakpoint}) view_menu_->addAction(dock->toggleViewAction());
  // First-run sizes; restoreState() replaces them with the user's.
  resizeDocks({modules, breakpoint}, {340, 360}, Qt::Horizontal);
  resizeDocks({wiring}, {220}, Qt::Vertical);
  status_ = new StatusPanel(context_, *statusBar());
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
  setup_.spec.model.clear();
  status_->set_state("opening the demo...");
  open_session();
}

void MainWindow::open_file(const QString& path, bool with_remembered) {
  if (!is_openable(path)) {
    context_.report_error(
        QString("cannot open '%1': expected a TorchScript model (.pt) or a recorded run "
                "(.sqlite)")
            .arg(path));
    return;
  }
  opening_ = QFileInfo(path).absoluteFilePath();  // into Recent files once it opened
  status_->set_state("opening " + QFileInfo(path).fileName() + "...");
  if (QFileInfo(path).suffix().toLower() == "sqlite") {
    context_.open_run(path);
    return;
  }
  // A model opens with the data, shape and choices it last trained with, unless the caller
  // chose them (the command line's flags, the New session dialog, Apply).
  const auto model = QFileInfo(path).absoluteFilePath().toStdString();
  if (with_remembered) set_session_spec(remembered_session(model, session_spec()));
  setup_.spec.model = model;
  open_session();
}

void MainWindow::open_session() {
  setup_.spec = session_spec();
  opening_spec_ = setup_.spec;
  context_.open(setup_);
}

void MainWindow::ask_new_session(const std::optional<QString>& model) {
  const auto current = session_spec();
  run_session_dialog(remembered_session(model ? model->toStdString() : current.model, current));
}

void MainWindow::run_session_dialog(const engine::SessionSpec& shown, const QString& notice) {
  SessionDialog dialog(shown, this);
  dialog.set_notice(notice);
  if (dialog.exec() != QDialog::Accepted) return;
  const auto spec = dialog.spec();  // checked by accept()
  set_session_spec(spec);
  if (spec.model.empty()) {
    open_demo();
  } else {
    open_file(QString::fromStdString(spec.model), /*with_remembered=*/false);
  }
}

void MainWindow::on_opened(const ModelSnapshot& snapshot) {
  const auto model = QFileInfo(snapshot.source).fileName();
  if (snapshot.live) {
    setWindowTitle(QString("ReplicaScope - %1").arg(model));
    remember_session(opening_spec_);  // this model's choices, for the New session dialog
  } else {
    // A recorded run is named by its file; the toolbar shows how it was trained (Apply trains
    // the same way again), not the previous session's settings.
    setWindowTitle(
        QString("ReplicaScope - %1 (a run of %2)")
            .arg(QFileInfo(snapshot.run_path).fileName(), model.isEmpty() ? "?" : model));
    if (!snapshot.devices.isEmpty()) devices_->setText(snapshot.devices.join(','));
    if (snapshot.batch > 0) batch_->setValue(static_cast<int>(snapshot.batch));
    synchronized_->setChecked(snapshot.synchronized);
  }
  if (!opening_.isEmpty()) remember_recent(opening_);
  opening_.clear();
  update_actions();
}

void MainWindow::on_open_failed(const QString&, const QStringList& proposed) {
  // A file that did not open is not one to reopen (errors of the open session leave it alone).
  if (!opening_.isEmpty()) forget_recent(opening_);
  opening_.clear();
  proposed_ = proposed;  // on_error, next, offers it
}

void MainWindow::on_error(const QString& what) {
  update_actions();
  // Offscreen (tests, CI) nobody can close a dialog: the status bar and stderr say it.
  qWarning("replicascope: %s", qPrintable(what));
  const auto proposed = std::exchange(proposed_, {});
  if (QGuiApplication::platformName() == "offscreen") return;
  if (!proposed.isEmpty()) {
    // The model cannot take the data: the dialog to change it, holding data that fits.
    try {
      const auto spec = session_from_flags(proposed);
      QTimer::singleShot(0, this, [this, spec, what] {
        run_session_dialog(spec, what + "\n\nThe fields below hold data the model can take.");
      });
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
  // With a recorded run open the toolbar shows that run's settings: the user's own are the
  // last live session's.
  const bool recorded = context_.snapshot() && !context_.live();
  const auto spec = recorded ? setup_.spec : session_spec();
  settings.setValue("session/devices", QString::fromStdString(spec.devices));
  settings.setValue("session/batch", static_cast<qlonglong>(spec.batch));
  settings.setValue("session/synchronized", spec.synchronized);
  event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  const auto urls = event->mimeData()->urls();
  if (urls.size() == 1 && urls[0].isLocalFile() && is_openable(urls[0].toLocalFile())) {
    event->acceptProposedAction();
  }
}

void MainWindow::dropEvent(QDropEvent* event) {
  open_file(event->mimeData()->urls().at(0).toLocalFile());
  event->acceptProposedAction();
}

}  // namespace replicascope::ui
