// SPDX-License-Identifier: GPL-3.0-or-later
// The GUI's costs, measured side by side in one run (offscreen Qt):
//   replot   a full redraw of the over-steps and divergence plots with 8 copies, 50 layers and
//            10,000 steps in the history, and of the divergence heatmap of 121 layers x 10,000
//            steps (goal: 16 ms or less);
//   open     a TorchScript model opened through the engine thread: load, convert, replicate,
//            wiring, module tree (--model; goal for resnet50: well under a second);
//   training the demo's steps/s with the main window open against the same session headless,
//            both recording to a run file (goal: 90% or more), alternating rounds.
//
// usage: replicascope_bench_gui [--model FILE.pt] [--rounds 3] [--steps 40]
#include <qcustomplot.h>

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <algorithm>
#include <cstdio>
#include <vector>

#include "bench_util.h"
#include "controller/engine_controller.h"
#include "itemmodels/module_tree_model.h"
#include "panels/statistics_view.h"
#include "replicascope/base/allocator.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/store/run_writer.h"
#include "session/session_context.h"
#include "window/main_window.h"

using namespace replicascope;
using namespace replicascope::ui;

namespace {

using replicascope::bench::median;

// A history of 8 copies, 50 layers and 10,000 steps. `band`: each layer's divergence swings
// over its whole range every few steps, so each line fills the plot's height in every pixel
// column (the worst case for drawing); otherwise it varies slowly, as a training's does.
replicascope::StepRecord fill_history(StatsHistory& history, bool band, int kLayers = 50) {
  constexpr int kCopies = 8, kSteps = 10000, kChannels = 4;
  history.select({"layer0", Statistic::kMean, 0, 0}, {});
  history.accept({1, {}, {}, {}});
  replicascope::StepRecord record;
  for (int l = 0; l < kLayers; ++l) {
    replicascope::LayerStats layer;
    layer.layer = "layer" + std::to_string(l);
    for (int c = 0; c < kCopies; ++c) {
      layer.copies.push_back(
          {c, 16, std::vector<double>(kChannels), std::vector<double>(kChannels)});
    }
    layer.mean = layer.var = layer.running_mean = layer.running_var =
        std::vector<double>(kChannels, 1.0);
    record.layers.push_back(layer);
  }
  for (int s = 1; s <= kSteps; ++s) {
    record.step = s;
    record.loss = 1.0 / s;
    for (int l = 0; l < kLayers; ++l) {
      auto& layer = record.layers[l];
      for (auto& c : layer.copies)
        c.mean[0] = std::sin(0.01 * s + c.copy + l) + 0.1 * std::sin(1.7 * s * (c.copy + 1));
      layer.mean[0] = std::sin(0.01 * s);
      layer.divergence = band ? 0.1 + 0.05 * std::sin(0.003 * s * (l + 1))
                              : 0.1 + 0.05 * std::sin(0.0005 * s + l) + 0.002 * std::sin(1.3 * s);
    }
    history.append(record);
  }
  return record;
}

// Two redraws the user meets: after a new step (its points added to every line, then the whole
// plot drawn), and a rebuild (every line's data set afresh, as after a new selection).
void time_replots(StatsHistory& history, replicascope::StepRecord last, StatisticsView::Tab tab,
                  const char* what) {
  SessionContext context;
  StatisticsView view(context, history);
  view.resize(1200, 800);
  view.show();
  QApplication::processEvents();
  view.show_tab(tab);
  view.replot_now();
  // The new steps repeat the last one's values, so the history keeps its shape.
  std::vector<double> step_ms, rebuild_ms;
  for (int i = 0; i < 20; ++i) {
    ++last.step;
    history.append(last);
    QElapsedTimer timer;
    timer.start();
    view.replot_now();
    step_ms.push_back(timer.nsecsElapsed() / 1e6);
    timer.restart();
    view.rebuild_now();
    rebuild_ms.push_back(timer.nsecsElapsed() / 1e6);
  }
  std::printf(
      "replot %-38s redraw median %6.2f ms (max %6.2f), rebuild median %6.2f ms (%d lines)\n", what,
      median(step_ms), *std::max_element(step_ms.begin(), step_ms.end()), median(rebuild_ms),
      view.plot(tab)->graphCount());
}

void bench_replot() {
  std::printf("history: 8 copies, 50 layers, 10,000 steps; plot 1200x800 (goal: 16 ms)\n");
  StatsHistory smooth, band;
  const auto last = fill_history(smooth, false);
  const auto band_last = fill_history(band, true);
  time_replots(smooth, last, StatisticsView::kOverSteps, "over steps (8 copies, sync, running)");
  time_replots(smooth, last, StatisticsView::kDivergence, "divergence, 50 layers");
  time_replots(band, band_last, StatisticsView::kDivergence, "divergence, 50 layers, worst case");
  time_replots(smooth, last, StatisticsView::kLoss, "loss and accuracy");
  StatsHistory densenet;  // densenet121's 121 synchronized layers
  const auto densenet_last = fill_history(densenet, false, 121);
  time_replots(densenet, densenet_last, StatisticsView::kHeatmap, "heatmap, 121 layers");
}

void bench_open(const QString& model) {
  EngineController engine;
  SessionSetup spec;
  spec.spec.model = model.toStdString();
  spec.spec.devices = "cpu:2";
  spec.spec.batch = 2;
  spec.spec.data = "synthetic";
  spec.runs_dir = QDir::temp().filePath("replicascope-bench-runs");
  for (int i = 0; i < 3; ++i) {
    QSignalSpy opened(&engine, &EngineController::opened);
    QElapsedTimer timer;
    timer.start();
    engine.open(spec);
    if (!opened.wait(120000)) {
      std::printf("open %s: failed\n", qPrintable(model));
      return;
    }
    const double engine_ms = timer.nsecsElapsed() / 1e6;
    const auto snapshot = opened.at(0).at(0).value<ModelSnapshotPtr>();
    QElapsedTimer tree_timer;
    tree_timer.start();
    ModuleTreeModel tree;
    tree.set_modules(snapshot->modules, snapshot->wiring.rows);
    std::printf(
        "open %s on cpu:2: %.0f ms until the engine reported (load, convert, replicate, "
        "wiring), %.2f ms for the tree model of %zu modules\n",
        qPrintable(QFileInfo(model).fileName()), engine_ms, tree_timer.nsecsElapsed() / 1e6,
        snapshot->modules.size());
  }
}

double headless_steps_per_second(int64_t steps, const QString& run_path) {
  engine::SessionOptions options;
  options.devices = std::vector<torch::Device>(4, torch::Device(torch::kCPU));
  options.batch_size = 32;
  std::shared_ptr<const data::Dataset> data = data::make_synthetic({1, 28, 28}, 10, 4096, 0);
  engine::Session session(engine::demo_model(), data, options);
  store::RunWriter writer(run_path.toStdString(), engine::run_metadata(options, "", "synthetic"));
  writer.append(session.step());  // warm-up
  QElapsedTimer timer;
  timer.start();
  for (int64_t i = 0; i < steps; ++i) writer.append(session.step());
  return steps / (timer.nsecsElapsed() / 1e9);
}

double gui_steps_per_second(int64_t steps) {
  MainWindow window;
  window.configure("cpu:4", 32, /*synthetic=*/true, false);
  window.resize(1400, 900);
  window.show();
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_demo();
  opened.wait(120000);
  QSignalSpy stepped(&window.context(), &SessionContext::stepped);
  window.context().step(1);  // warm-up
  stepped.wait(120000);
  stepped.clear();
  QElapsedTimer timer;
  timer.start();
  window.context().step(steps);
  while (stepped.count() < steps) stepped.wait(120000);
  return steps / (timer.nsecsElapsed() / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory_mapped();
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  QStandardPaths::setTestModeEnabled(true);
  QString model;
  int rounds = 3;
  int64_t steps = 40;
  for (int i = 1; i + 1 < argc; i += 2) {
    const QString key = argv[i];
    if (key == "--model") model = argv[i + 1];
    if (key == "--rounds") rounds = std::atoi(argv[i + 1]);
    if (key == "--steps") steps = std::atoll(argv[i + 1]);
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines as they come, even into a pipe
  bench_replot();
  if (!model.isEmpty()) bench_open(model);
  QTemporaryDir runs;
  std::vector<double> ratios;
  for (int r = 0; r < rounds; ++r) {
    const double headless =
        headless_steps_per_second(steps, runs.filePath(QString("headless-%1.sqlite").arg(r)));
    const double gui = gui_steps_per_second(steps);
    ratios.push_back(gui / headless);
    std::printf("training round %d: headless %.1f steps/s, GUI %.1f steps/s, ratio %.3f\n", r + 1,
                headless, gui, gui / headless);
  }
  if (!ratios.empty()) {
    std::printf("training GUI/headless: median ratio %.3f over %d rounds (goal >= 0.90)\n",
                median(ratios), rounds);
  }
  return 0;
}
