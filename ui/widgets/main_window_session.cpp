// The main window's side of a session: what it does with the engine's reports, the selection
// kept in step between the tree, the wiring grid and the plots, breakpoints and exports.
#include <qcustomplot.h>

#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QStatusBar>
#include <QTableView>
#include <QTreeView>

#include "plot/plot_tools.h"
#include "plot/statistics_plot.h"
#include "widgets/breakpoint_panel.h"
#include "widgets/main_window.h"
#include "widgets/statistics_view.h"

namespace replicascope::ui {
namespace {

// Whether the statistics plots can show `m`: a synchronized layer of a live session, or a layer
// a recorded run kept statistics for.
bool has_statistics(const ModelSnapshot& snapshot, const ModelModule& m) {
  return snapshot.live ? m.synchronized : snapshot.recorded_divergence.count(m.name) > 0;
}

}  // namespace

void MainWindow::connect_engine() {
  connect(&engine_, &EngineController::opened, this, &MainWindow::on_opened);
  connect(&engine_, &EngineController::stepped, this, &MainWindow::on_stepped);
  connect(&engine_, &EngineController::seriesReady, this, [this](const SeriesReplyPtr& reply) {
    if (!history_.accept(*reply)) return;  // stale: a newer selection is on its way
    if (!reply->error.isEmpty()) show_error(reply->error);
    statistics_->replot_now();
  });
  connect(&engine_, &EngineController::runningChanged, this, [this] { update_controls(); });
  connect(&engine_, &EngineController::paused, this, [this](const BreakpointHitPtr& hit) {
    breakpoints_->show_hit(*hit);
    breakpoints_->parentWidget()->show();
    breakpoints_->parentWidget()->raise();
    status_state_->setText(QString("paused at %1").arg(QString::fromStdString(hit->stats.layer)));
    update_controls();
  });
  connect(&engine_, &EngineController::resumed, this, [this] {
    breakpoints_->clear_hit();
    update_controls();
  });
  connect(&engine_, &EngineController::sessionReset, this, [this] {
    history_.clear();
    step_times_ms_.clear();
    request_series();
    statistics_->replot_now();
    status_step_->setText("step 0");
    status_loss_->setText("loss -");
  });
  connect(&engine_, &EngineController::breakpointsChanged, this,
          [this] { tree_model_.set_breakpoints(engine_.breakpoints()); });
  connect(&engine_, &EngineController::failed, this, [this](const QString& what) {
    show_error(what);
    update_controls();
  });
  connect(statistics_, &StatisticsView::selectionEdited, this, [this] { request_series(); });
}

void MainWindow::on_opened(const ModelSnapshotPtr& snapshot) {
  snapshot_ = snapshot;
  tree_model_.set_modules(snapshot->modules, snapshot->wiring.rows);
  tree_model_.set_breakpoints(engine_.breakpoints());
  wiring_model_.set_wiring(snapshot->wiring);
  tree_->expandToDepth(1);
  tree_->resizeColumnToContents(0);
  wiring_->resizeColumnsToContents();
  history_.clear();
  step_times_ms_.clear();
  if (!snapshot->live) history_.load_recorded(*snapshot);
  // A recorded run's status: its last step; a live session's: none yet.
  const auto* last = snapshot->recorded_steps.empty() ? nullptr : &snapshot->recorded_steps.back();
  status_step_->setText(last ? QString("step %1 (recorded)").arg(last->step) : QString("step 0"));
  status_loss_->setText(last ? QString("loss %1").arg(last->loss, 0, 'f', 4) : QString("loss -"));
  statistics_->set_channel_count(snapshot->live ? 1 : 4096);
  setWindowTitle(QString("ReplicaScope - %1").arg(QFileInfo(snapshot->source).fileName()));
  const int problems = wiring_model_.problem_count();
  status_state_->setText(
      QString("%1 (%2) on %3%4")
          .arg(snapshot->source, snapshot->kind, snapshot->devices.join(','))
          .arg(problems ? QString(", %1 wiring problem(s)").arg(problems) : QString()));
  // The first synchronized layer is the one shown until the user picks another.
  std::string first;
  for (const auto& m : snapshot->modules) {
    if (has_statistics(*snapshot, m)) {
      first = m.name;
      break;
    }
  }
  history_.select(statistics_->selection_for(first), overlay_path_);
  select_layer(first);
  request_series();
  statistics_->replot_now();
  update_controls();
}

void MainWindow::on_stepped(const StepRecordPtr& record) {
  history_.append(*record);
  history_.set_latest(record);
  // The channel range follows the selected layer's width, known from its first step.
  for (const auto& layer : record->layers) {
    if (layer.layer == history_.selection().layer && layer.sync_point == 0 && record->step == 1) {
      statistics_->set_channel_count(static_cast<int64_t>(layer.mean.size()));
    }
  }
  const auto now = clock_.elapsed();
  step_times_ms_.push_back(now);
  while (step_times_ms_.size() > 2 && now - step_times_ms_.front() > 2000) {
    step_times_ms_.pop_front();
  }
  status_step_->setText(QString("step %1").arg(record->step));
  status_loss_->setText(QString("loss %1").arg(record->loss, 0, 'f', 4));
  if (step_times_ms_.size() >= 2) {
    const double span = (step_times_ms_.back() - step_times_ms_.front()) / 1000.0;
    status_speed_->setText(
        QString("%1 steps/s").arg((step_times_ms_.size() - 1) / std::max(span, 1e-3), 0, 'f', 1));
  }
  statistics_->schedule_replot();
}

void MainWindow::request_series() {
  const auto layer = history_.selection().layer;
  engine_.requestSeries(history_.select(statistics_->selection_for(layer), overlay_path_));
}

void MainWindow::compare_with(const QString& run_path) {
  overlay_path_ = run_path;
  request_series();
  statistics_->show_tab(StatisticsView::kOverSteps);
}

void MainWindow::select_layer(const std::string& layer) {
  const auto index = tree_filter_.mapFromSource(tree_model_.index_of(layer));
  if (index.isValid()) tree_->setCurrentIndex(index);  // the wiring grid follows
  // The plots follow even when the tree's filter hides the layer.
  if (layer != history_.selection().layer) {
    history_.select(statistics_->selection_for(layer), overlay_path_);
    request_series();
  }
}

void MainWindow::sync_selection_from_tree(const QModelIndex& proxy_index) {
  if (syncing_selection_) return;
  syncing_selection_ = true;
  const auto source = tree_filter_.mapToSource(proxy_index);
  const auto* module = tree_model_.module_at(source);
  if (module) {
    const int row = wiring_model_.row_of(QString::fromStdString(module->name));
    if (row >= 0) {
      wiring_->selectRow(row);
      wiring_->scrollTo(wiring_model_.index(row, 0));
    }
    const bool plottable = snapshot_ && has_statistics(*snapshot_, *module);
    if (plottable && module->name != history_.selection().layer) {
      history_.select(statistics_->selection_for(module->name), overlay_path_);
      request_series();
    }
  }
  syncing_selection_ = false;
}

void MainWindow::sync_selection_from_wiring(const QModelIndex& index) {
  if (syncing_selection_ || !index.isValid()) return;
  const auto name = index.data(WiringModel::kModuleRole).toString().toStdString();
  const auto proxy = tree_filter_.mapFromSource(tree_model_.index_of(name));
  if (proxy.isValid()) tree_->setCurrentIndex(proxy);
}

void MainWindow::toggle_breakpoint_at(const QString& module) {
  const auto at = tree_model_.index_of(module.toStdString());
  if (!at.isValid() || !at.data(ModuleTreeModel::kSynchronizedRole).toBool()) {
    statusBar()->showMessage(
        QString("'%1' is not a synchronized layer: breakpoints go on sync points").arg(module),
        4000);
    return;
  }
  engine_.toggleBreakpoint(module.toStdString());
}

void MainWindow::show_context_menu(const QString& module, const QPoint& global) {
  QMenu menu;
  const bool set = engine_.breakpoints().count(module.toStdString()) != 0;
  auto* toggle = menu.addAction(set ? "Remove breakpoint" : "Set breakpoint at this sync point");
  toggle->setEnabled(
      snapshot_ && snapshot_->live &&
      tree_model_.index_of(module.toStdString()).data(ModuleTreeModel::kSynchronizedRole).toBool());
  auto* clear = menu.addAction("Clear all breakpoints");
  auto* chosen = menu.exec(global);
  if (chosen == toggle) toggle_breakpoint_at(module);
  if (chosen == clear) engine_.setBreakpoints({});
}

void MainWindow::update_controls() {
  const bool live = snapshot_ && snapshot_->live;
  for (auto* action : live_actions_) action->setEnabled(live);
  const bool paused = engine_.isPaused();
  for (auto* action : paused_actions_) action->setEnabled(paused);
  run_action_->setText(engine_.running() ? "Pause" : "Run");
  if (snapshot_ && !paused) {
    status_state_->setText(!live               ? QString("recorded run")
                           : engine_.running() ? QString("running")
                                               : QString("ready"));
  }
}

QString MainWindow::status_text() const {
  return QStringList{status_state_->text(), status_step_->text(), status_loss_->text(),
                     status_speed_->text()}
      .join(" | ");
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
    show_error(QString("size '%1': expected WIDTHxHEIGHT, each 16 to 20000").arg(size));
    return;
  }
  try {
    export_plot(path, width, height);
    statusBar()->showMessage("wrote " + path, 4000);
  } catch (const std::exception& e) {
    show_error(e.what());
  }
}

void MainWindow::ask_export_csv() {
  const auto path =
      QFileDialog::getSaveFileName(this, "Export what the plot shows", "plot.csv", "CSV (*.csv)");
  if (path.isEmpty()) return;
  try {
    export_csv(path);
    statusBar()->showMessage("wrote " + path, 4000);
  } catch (const std::exception& e) {
    show_error(e.what());
  }
}

void MainWindow::show_error(const QString& what) {
  statusBar()->showMessage(what, 10000);
  status_state_->setText("error");
  // Offscreen (tests, CI) nobody can close a dialog: the status bar and stderr say it.
  qWarning("replicascope: %s", qPrintable(what));
  if (QGuiApplication::platformName() != "offscreen")
    QMessageBox::warning(this, "ReplicaScope", what);
}

}  // namespace replicascope::ui
