// The main window's construction: panels, actions, menus, toolbar, settings, drag and drop.
// What happens when the engine reports is in main_window_session.cpp.
#include "widgets/main_window.h"

#include <QAction>
#include <QCheckBox>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMimeData>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTableView>
#include <QToolBar>
#include <QTreeView>
#include <QVBoxLayout>

#include "plot/plot_tools.h"
#include "replicascope/atomic_write.h"
#include "widgets/breakpoint_panel.h"
#include "widgets/statistics_view.h"

namespace replicascope::ui {
namespace {

constexpr int kMaxRecent = 8;

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
  clock_.start();
  QSettings settings;
  spec_.devices = settings.value("session/devices", "cpu:4").toString();
  spec_.batch_size = settings.value("session/batch", 32).toLongLong();
  spec_.synchronized = settings.value("session/synchronized", true).toBool();
  spec_.runs_dir = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/runs";
  statistics_ = new StatisticsView(history_, this);
  setCentralWidget(statistics_);
  build_panels();
  build_actions();
  connect_engine();
  resize(1400, 900);
  restoreGeometry(settings.value("window/geometry").toByteArray());
  restoreState(settings.value("window/state").toByteArray());
  update_controls();
}

MainWindow::~MainWindow() = default;

void MainWindow::build_panels() {
  auto* tree_panel = new QWidget;
  auto* tree_layout = new QVBoxLayout(tree_panel);
  tree_layout->setContentsMargins(2, 2, 2, 2);
  search_ = new QLineEdit;
  search_->setPlaceholderText("search modules (name or type)");
  search_->setClearButtonEnabled(true);
  tree_filter_.setSourceModel(&tree_model_);
  tree_filter_.setRecursiveFilteringEnabled(true);  // a match keeps its ancestors
  tree_filter_.setFilterCaseSensitivity(Qt::CaseInsensitive);
  tree_filter_.setFilterKeyColumn(-1);
  tree_ = new QTreeView;
  tree_->setModel(&tree_filter_);
  tree_->setUniformRowHeights(true);  // fast with thousands of rows
  tree_->header()->setSectionResizeMode(QHeaderView::Interactive);
  tree_layout->addWidget(search_);
  tree_layout->addWidget(tree_, 1);
  connect(search_, &QLineEdit::textChanged, this, [this](const QString& text) {
    tree_filter_.setFilterFixedString(text);
    if (!text.isEmpty()) tree_->expandAll();
  });
  connect(tree_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) { sync_selection_from_tree(current); });
  add_breakpoint_menu(tree_, ModuleTreeModel::kQualifiedNameRole);

  wiring_ = new QTableView;
  wiring_->setModel(&wiring_model_);
  wiring_->setSelectionBehavior(QAbstractItemView::SelectRows);
  wiring_->setSelectionMode(QAbstractItemView::SingleSelection);
  wiring_->verticalHeader()->setDefaultSectionSize(20);
  connect(wiring_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) { sync_selection_from_wiring(current); });
  add_breakpoint_menu(wiring_, WiringModel::kModuleRole);

  breakpoints_ = new BreakpointPanel;
  connect(breakpoints_, &BreakpointPanel::resumeRequested, this,
          [this](engine::ResumeMode mode) { engine_.resume(mode); });
  connect(breakpoints_, &BreakpointPanel::stopRequested, this, [this] { engine_.stop(); });

  view_menu_ = new QMenu("&View", this);
  auto* modules = add_dock(*this, "Modules", "modules", tree_panel, Qt::LeftDockWidgetArea);
  auto* wiring = add_dock(*this, "Wiring", "wiring", wiring_, Qt::BottomDockWidgetArea);
  auto* breakpoint =
      add_dock(*this, "Breakpoint", "breakpoint", breakpoints_, Qt::RightDockWidgetArea);
  for (auto* dock : {modules, wiring, breakpoint}) view_menu_->addAction(dock->toggleViewAction());
  // First-run sizes; restoreState() replaces them with the user's.
  resizeDocks({modules, breakpoint}, {340, 360}, Qt::Horizontal);
  resizeDocks({wiring}, {220}, Qt::Vertical);
  status_step_ = new QLabel("step 0");
  status_loss_ = new QLabel("loss -");
  status_speed_ = new QLabel("- steps/s");
  status_state_ = new QLabel("no model");
  for (auto* label : {status_state_, status_step_, status_loss_, status_speed_}) {
    statusBar()->addPermanentWidget(label);
  }
}

void MainWindow::add_breakpoint_menu(QAbstractItemView* view, int module_role) {
  view->setContextMenuPolicy(Qt::CustomContextMenu);
  connect(view, &QAbstractItemView::customContextMenuRequested, this,
          [this, view, module_role](const QPoint& at) {
            const auto index = view->indexAt(at);
            if (index.isValid()) {
              show_context_menu(index.data(module_role).toString(),
                                view->viewport()->mapToGlobal(at));
            }
          });
}

void MainWindow::build_actions() {
  auto* file = menuBar()->addMenu("&File");
  auto add = [this](QMenu* menu, const QString& text, const QKeySequence& key, auto slot) {
    auto* action = menu->addAction(text);
    if (!key.isEmpty()) action->setShortcut(key);
    connect(action, &QAction::triggered, this, slot);
    return action;
  };
  add(file, "Open &model or run...", QKeySequence::Open, [this] {
    const auto path = QFileDialog::getOpenFileName(
        this, "Open a TorchScript model or a recorded run", {},
        "Models and runs (*.pt *.pth *.sqlite);;TorchScript (*.pt *.pth);;Runs (*.sqlite)");
    if (!path.isEmpty()) open_file(path);
  });
  add(file, "Open the &demo", {}, [this] { open_demo(); });
  recent_menu_ = file->addMenu("&Recent files");
  rebuild_recent_menu();
  file->addSeparator();
  add(file, "&Compare with run...", {}, [this] {
    const auto path =
        QFileDialog::getOpenFileName(this, "Compare with a recorded run", {}, "Runs (*.sqlite)");
    if (!path.isEmpty()) compare_with(path);
  });
  add(file, "C&lear comparison", {}, [this] { compare_with({}); });
  file->addSeparator();
  add(file, "&Export plot...", QKeySequence("Ctrl+E"), [this] { ask_export_plot(); });
  add(file, "Export plot data as &CSV...", QKeySequence("Ctrl+Shift+E"),
      [this] { ask_export_csv(); });
  add(file, "Co&py plot", QKeySequence("Ctrl+Shift+C"), [this] {
    copy_plot_to_clipboard(*statistics_->current_plot(), 1200, 800);
    statusBar()->showMessage("plot copied (image and CSV)", 3000);
  });
  file->addSeparator();
  add(file, "&Quit", QKeySequence::Quit, [this] { close(); });

  auto* debug = menuBar()->addMenu("&Debug");
  auto* toolbar = addToolBar("Training");
  toolbar->setObjectName("training");
  auto* step = add(debug, "&Step", QKeySequence(Qt::Key_F10), [this] { engine_.step(1); });
  auto* step_n = add(debug, "Step &N", QKeySequence("Ctrl+F10"),
                     [this] { engine_.step(step_count_->value()); });
  run_action_ = add(debug, "&Run", QKeySequence(Qt::Key_F5),
                    [this] { engine_.running() ? engine_.pause() : engine_.run(); });
  auto* stop = add(debug, "S&top", QKeySequence("Shift+F5"), [this] { engine_.stop(); });
  auto* reset = add(debug, "R&eset", QKeySequence("Ctrl+R"), [this] { engine_.reset(); });
  debug->addSeparator();
  add(debug, "Toggle &breakpoint", QKeySequence(Qt::Key_F9), [this] {
    if (!history_.selection().layer.empty()) {
      toggle_breakpoint_at(QString::fromStdString(history_.selection().layer));
    }
  });
  paused_actions_ = {add(debug, "&Continue", QKeySequence(Qt::Key_F8),
                         [this] { engine_.resume(engine::ResumeMode::kContinue); }),
                     add(debug, "Step to next sync &point", QKeySequence(Qt::Key_F11),
                         [this] { engine_.resume(engine::ResumeMode::kNextSyncPoint); }),
                     add(debug, "Run to end of &batch", QKeySequence("Shift+F11"),
                         [this] { engine_.resume(engine::ResumeMode::kEndOfBatch); })};
  live_actions_ = {step, step_n, run_action_, stop, reset};
  menuBar()->addMenu(view_menu_);

  step_count_ = new QSpinBox;
  step_count_->setRange(1, 1'000'000);
  step_count_->setValue(10);
  step_count_->setToolTip("steps for Step N");
  devices_ = new QLineEdit(spec_.devices);
  devices_->setMaximumWidth(110);
  devices_->setToolTip("copies: cpu:N or cuda:I,J (applies on Apply or the next open)");
  batch_ = new QSpinBox;
  batch_->setRange(1, 1 << 20);
  batch_->setValue(static_cast<int>(spec_.batch_size));
  batch_->setToolTip("the whole batch, split over the copies");
  synchronized_ = new QCheckBox("synchronized BN");
  synchronized_->setChecked(spec_.synchronized);
  toolbar->addAction(step);
  toolbar->addAction(step_n);
  toolbar->addWidget(step_count_);
  toolbar->addAction(run_action_);
  toolbar->addAction(stop);
  toolbar->addAction(reset);
  toolbar->addSeparator();
  toolbar->addWidget(new QLabel(" devices "));
  toolbar->addWidget(devices_);
  toolbar->addWidget(new QLabel(" batch "));
  toolbar->addWidget(batch_);
  toolbar->addWidget(synchronized_);
  auto* apply = toolbar->addAction("Apply");
  apply->setToolTip("restart the session with these devices, batch and BatchNorm");
  connect(apply, &QAction::triggered, this, [this] {
    if (snapshot_ && snapshot_->live && snapshot_->source != "demo") {
      open_file(snapshot_->source);
    } else {
      open_demo();
    }
  });
}

void MainWindow::configure(const QString& devices, int64_t batch, bool synthetic,
                           bool unsynchronized) {
  if (!devices.isEmpty()) devices_->setText(devices);
  if (batch > 0) batch_->setValue(static_cast<int>(batch));
  spec_.synthetic = synthetic;
  synchronized_->setChecked(!unsynchronized);
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
  spec_.model_path.clear();
  spec_.devices = devices_->text().trimmed();
  spec_.batch_size = batch_->value();
  spec_.synchronized = synchronized_->isChecked();
  status_state_->setText("opening the demo...");
  engine_.open(spec_);
}

void MainWindow::open_file(const QString& path) {
  if (!is_openable(path)) {
    show_error(QString("cannot open '%1': expected a TorchScript model (.pt) or a recorded run "
                       "(.sqlite)")
                   .arg(path));
    return;
  }
  remember_recent(path);
  status_state_->setText("opening " + QFileInfo(path).fileName() + "...");
  if (QFileInfo(path).suffix().toLower() == "sqlite") {
    engine_.openRun(path);
    return;
  }
  spec_.model_path = path;
  spec_.devices = devices_->text().trimmed();
  spec_.batch_size = batch_->value();
  spec_.synchronized = synchronized_->isChecked();
  engine_.open(spec_);
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

void MainWindow::rebuild_recent_menu() {
  recent_menu_->clear();
  const auto recent = QSettings().value("recent").toStringList();
  for (const auto& path : recent) {
    connect(recent_menu_->addAction(path), &QAction::triggered, this,
            [this, path] { open_file(path); });
  }
  recent_menu_->setEnabled(!recent.isEmpty());
}

void MainWindow::closeEvent(QCloseEvent* event) {
  engine_.stop();  // copies paused at a breakpoint go on, so the engine thread can end
  QSettings settings;
  settings.setValue("window/geometry", saveGeometry());
  settings.setValue("window/state", saveState());
  settings.setValue("session/devices", devices_->text());
  settings.setValue("session/batch", batch_->value());
  settings.setValue("session/synchronized", synchronized_->isChecked());
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
