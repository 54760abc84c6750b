// SPDX-License-Identifier: GPL-3.0-or-later
// The main window's menus and toolbar, and the exports they start.
#include <qcustomplot.h>

#include <QAction>
#include <QCheckBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSpinBox>
#include <QStatusBar>
#include <QToolBar>

#include "panels/statistics_view.h"
#include "plot/plot_tools.h"
#include "plot/statistics_plot.h"
#include "replicascope/base/build_info.h"
#include "replicascope/base/describe_error.h"
#include "window/main_window.h"
#include "window/main_window_icons.h"
#include "window/session_dialog.h"

namespace replicascope::ui {
namespace {

constexpr int kMaxRecent = 8;

template <class Slot>
QAction* add_action(QMenu* menu, QObject* receiver, const QString& text, const QKeySequence& key,
                    Slot slot) {
  auto* action = menu->addAction(action_icon(text), text);
  if (!key.isEmpty()) action->setShortcut(key);
  QObject::connect(action, &QAction::triggered, receiver, slot);
  return action;
}

}  // namespace

void MainWindow::build_file_menu() {
  auto* file = menuBar()->addMenu("&File");
  add_action(file, this, "&New session...", QKeySequence::New, [this] { ask_new_session(); });
  add_action(file, this, "Open &model or run...", QKeySequence::Open, [this] {
    const auto path = QFileDialog::getOpenFileName(
        this, "Open a TorchScript model or a recorded run", {},
        "Models and runs (*.pt *.pth *.sqlite);;TorchScript (*.pt *.pth);;Runs (*.sqlite)");
    if (path.isEmpty()) return;
    // A model needs its data, shape and training choices: the New session dialog asks, on this
    // model's last ones.
    if (path.endsWith(".sqlite", Qt::CaseInsensitive)) {
      open_file(path);
    } else {
      ask_new_session(path);
    }
  });
  add_action(file, this, "Open the &demo", {}, [this] { open_demo(); });
  reload_action_ = add_action(file, this, "Re&load the run", QKeySequence("Ctrl+Shift+R"), [this] {
    // A run that is followed shows its new steps by itself; this reads a finished one afresh.
    if (const auto* snapshot = context_.snapshot(); snapshot && !snapshot->live)
      open_file(snapshot->run_path);
  });
  recent_menu_ = file->addMenu(action_icon("Recent files"), "&Recent files");
  rebuild_recent_menu();
  file->addSeparator();
  // Each run chosen is drawn besides those compared before; Clear takes them all away.
  add_action(file, this, "&Compare with runs...", {}, [this] {
    const auto paths =
        QFileDialog::getOpenFileNames(this, "Compare with recorded runs", {}, "Runs (*.sqlite)");
    if (paths.isEmpty()) return;
    context_.compare_with(paths);
    statistics_->show_tab(StatisticsView::kOverSteps);
  });
  add_action(file, this, "C&lear comparisons", {}, [this] { context_.compare_with({}); });
  file->addSeparator();
  add_action(file, this, "&Export plot...", QKeySequence("Ctrl+E"), [this] { ask_export_plot(); });
  add_action(file, this, "Export plot data as &CSV...", QKeySequence("Ctrl+Shift+E"),
             [this] { ask_export_csv(); });
  add_action(file, this, "Co&py plot", QKeySequence("Ctrl+Shift+C"), [this] {
    copy_plot_to_clipboard(*statistics_->current_plot(), 1200, 800);
    statusBar()->showMessage("plot copied (image and CSV)", 3000);
  });
  file->addSeparator();
  add_action(file, this, "&Quit", QKeySequence::Quit, [this] { close(); });
}

void MainWindow::build_debug_menu() {
  auto* debug = menuBar()->addMenu("&Debug");
  auto& session = context_;
  auto* step =
      add_action(debug, this, "&Step", QKeySequence(Qt::Key_F10), [&session] { session.step(1); });
  auto* step_n = add_action(debug, this, "Step &N", QKeySequence("Ctrl+F10"),
                            [this, &session] { session.step(step_count_->value()); });
  run_action_ = add_action(debug, this, "&Run", QKeySequence(Qt::Key_F5),
                           [&session] { session.running() ? session.pause() : session.run(); });
  auto* stop =
      add_action(debug, this, "S&top", QKeySequence("Shift+F5"), [&session] { session.stop(); });
  auto* reset =
      add_action(debug, this, "R&eset", QKeySequence("Ctrl+R"), [&session] { session.reset(); });
  debug->addSeparator();
  add_action(debug, this, "Toggle &breakpoint", QKeySequence(Qt::Key_F9), [this] {
    const auto& module = context_.selected();
    if (!module.empty() && !context_.toggle_breakpoint(module)) {
      statusBar()->showMessage(QString("'%1' is not a synchronized layer: breakpoints go on sync "
                                       "points")
                                   .arg(QString::fromStdString(module)),
                               4000);
    }
  });
  paused_actions_ = {add_action(debug, this, "&Continue", QKeySequence(Qt::Key_F8),
                                [&session] { session.resume(engine::ResumeMode::kContinue); }),
                     add_action(debug, this, "Step to next sync &point", QKeySequence(Qt::Key_F11),
                                [&session] { session.resume(engine::ResumeMode::kNextSyncPoint); }),
                     add_action(debug, this, "Run to end of &batch", QKeySequence("Shift+F11"),
                                [&session] { session.resume(engine::ResumeMode::kEndOfBatch); })};
  live_actions_ = {step, step_n, run_action_, stop, reset};
}

void MainWindow::build_toolbar() {
  auto* toolbar = addToolBar("Training");
  toolbar->setObjectName("training");
  toolbar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);  // the names too, as before icons
  step_count_ = new QSpinBox;
  step_count_->setRange(1, static_cast<int>(kMaxQueuedSteps));
  step_count_->setValue(10);
  step_count_->setToolTip("steps for Step N");
  devices_ = new QLineEdit(QString::fromStdString(setup_.spec.devices));
  devices_->setObjectName("devices");
  devices_->setMaximumWidth(110);
  devices_->setToolTip("copies: cpu:N or cuda:I,J (applies on Apply or the next open)");
  batch_ = new QSpinBox;
  batch_->setObjectName("batch");
  batch_->setRange(1, 1 << 20);
  batch_->setValue(static_cast<int>(setup_.spec.batch));
  batch_->setToolTip("the whole batch, split over the copies");
  synchronized_ = new QCheckBox("synchronized BN");
  synchronized_->setObjectName("synchronized");
  synchronized_->setChecked(setup_.spec.synchronized);
  toolbar->addAction(live_actions_[0]);
  toolbar->addAction(live_actions_[1]);
  toolbar->addWidget(step_count_);
  for (size_t i = 2; i < live_actions_.size(); ++i) toolbar->addAction(live_actions_[i]);
  toolbar->addSeparator();
  toolbar->addWidget(new QLabel(" devices "));
  toolbar->addWidget(devices_);
  toolbar->addWidget(new QLabel(" batch "));
  toolbar->addWidget(batch_);
  toolbar->addWidget(synchronized_);
  apply_action_ = toolbar->addAction(action_icon("Apply"), "Apply");
  apply_action_->setObjectName("apply");
  connect(apply_action_, &QAction::triggered, this, &MainWindow::apply_toolbar);
}

bool MainWindow::can_apply() const {
  const auto* snapshot = context_.snapshot();
  return !snapshot || snapshot->live || snapshot->source == "demo" ||
         QFileInfo(snapshot->source).isFile();
}

void MainWindow::apply_toolbar() {
  if (!can_apply()) return;
  const auto* snapshot = context_.snapshot();
  auto spec = session_spec();
  if (snapshot && !snapshot->live) {
    // A recorded run's model trains on its own remembered data and choices, with the
    // toolbar's copies: never on what another model last trained with.
    const auto model = snapshot->source == "demo"
                           ? std::string()
                           : QFileInfo(snapshot->source).absoluteFilePath().toStdString();
    auto remembered = remembered_session(model, spec);
    remembered.devices = spec.devices;
    remembered.batch = spec.batch;
    remembered.synchronized = spec.synchronized;
    spec = remembered;
  } else if (!snapshot) {
    spec.model.clear();  // nothing open: the demo
  }
  start_session(spec);
}

void MainWindow::build_help_menu() {
  auto* help = menuBar()->addMenu("&Help");
  add_action(help, this, "&Keyboard shortcuts", QKeySequence::HelpContents, [this] {
    QMessageBox box(QMessageBox::Information, "Keyboard shortcuts", shortcuts_text(),
                    QMessageBox::Ok, this);
    box.setTextFormat(Qt::RichText);
    box.exec();
  });
  add_action(help, this, "&About ReplicaScope", {},
             [this] { QMessageBox::about(this, "About ReplicaScope", about_text()); });
}

QString MainWindow::shortcuts_text() const {
  QString rows;
  for (auto* menu_action : menuBar()->actions()) {
    auto* menu = menu_action->menu();
    if (!menu) continue;
    for (auto* action : menu->actions()) {
      if (action->shortcut().isEmpty()) continue;
      rows += QString("<tr><td>%1</td><td>%2 &gt; %3</td></tr>")
                  .arg(action->shortcut().toString(QKeySequence::NativeText).toHtmlEscaped(),
                       menu->title().remove('&'), action->text().remove('&'));
    }
  }
  return "<table cellspacing=4>" + rows +
         "</table><p>In a plot: wheel zooms, drag pans, double-click resets the view; click a "
         "line or its legend entry to select it (the CSV then has only the selected).</p>";
}

QString MainWindow::about_text() const {
  return QString(
             "<h3>ReplicaScope %1</h3><p>A visual debugger for data-parallel training with "
             "synchronized BatchNorm.</p><p>Qt %2 (built with %3), LibTorch %4, "
             "QCustomPlot %5<br>%6</p>")
      .arg(QString::fromStdString(replicascope_version()), qVersion(), QT_VERSION_STR,
           QString::fromStdString(libtorch_version()), QCUSTOMPLOT_VERSION_STR,
           QString::fromStdString(build_description()).toHtmlEscaped());
}

void MainWindow::update_actions() {
  const bool live = context_.live();
  for (auto* action : live_actions_) action->setEnabled(live);
  reload_action_->setEnabled(context_.snapshot() && !live);
  apply_action_->setEnabled(can_apply());
  apply_action_->setToolTip(
      can_apply() ? QString("restart the session with these devices, batch and BatchNorm")
                  : QString("this run's model '%1' is not on this machine: File > New session "
                            "opens a model")
                        .arg(context_.snapshot()->source));
  const bool paused = context_.paused();
  for (auto* action : paused_actions_) action->setEnabled(paused);
  run_action_->setText(context_.running() ? "Pause" : "Run");
  run_action_->setIcon(action_icon(run_action_->text()));
}

void MainWindow::remember_recent(const QString& path) {
  QSettings settings;
  auto recent = settings.value("recent").toStringList();
  const auto absolute = QFileInfo(path).absoluteFilePath();
  recent.removeAll(absolute);
  recent.prepend(absolute);
  while (recent.size() > kMaxRecent) recent.removeLast();
  settings.setValue("recent", recent);
  rebuild_recent_menu();
}

void MainWindow::forget_recent(const QString& path) {
  QSettings settings;
  auto recent = settings.value("recent").toStringList();
  if (recent.removeAll(QFileInfo(path).absoluteFilePath()) == 0) return;
  settings.setValue("recent", recent);
  rebuild_recent_menu();
}

void MainWindow::rebuild_recent_menu() {
  recent_menu_->clear();
  const auto recent = QSettings().value("recent").toStringList();
  for (const auto& path : recent) {
    connect(recent_menu_->addAction(path), &QAction::triggered, this,
            [this, path] { open_file(path); });
  }
  recent_menu_->setEnabled(!recent.isEmpty());
}

void MainWindow::export_plot(const QString& path, int width, int height) {
  save_plot(*statistics_->current_plot(), path, width, height);
}

void MainWindow::export_csv(const QString& path) {
  save_visible_csv(*statistics_->current_plot(), path);
}

void MainWindow::ask_export_plot() {
  const auto path = QFileDialog::getSaveFileName(
      this, "Export the plot", "plot.png", "PNG (*.png);;JPG (*.jpg);;PDF (*.pdf);;SVG (*.svg)");
  if (path.isEmpty()) return;
  bool ok = false;
  const auto size = QInputDialog::getText(
      this, "Export the plot", "Size (width x height):", QLineEdit::Normal, "1200x800", &ok);
  if (!ok) return;
  const auto parts = size.split('x');
  const int width = parts.size() == 2 ? parts[0].trimmed().toInt() : 0;
  const int height = parts.size() == 2 ? parts[1].trimmed().toInt() : 0;
  if (width < 16 || height < 16 || width > 20000 || height > 20000) {
    context_.report_error(QString("size '%1': expected WIDTHxHEIGHT, each 16 to 20000").arg(size));
    return;
  }
  try {
    export_plot(path, width, height);
    statusBar()->showMessage("wrote " + path, 4000);
  } catch (const std::exception&) {
    context_.report_error(QString::fromStdString(describe(std::current_exception())));
  }
}

void MainWindow::ask_export_csv() {
  const auto path =
      QFileDialog::getSaveFileName(this, "Export what the plot shows", "plot.csv", "CSV (*.csv)");
  if (path.isEmpty()) return;
  try {
    export_csv(path);
    statusBar()->showMessage("wrote " + path, 4000);
  } catch (const std::exception&) {
    context_.report_error(QString::fromStdString(describe(std::current_exception())));
  }
}

}  // namespace replicascope::ui
