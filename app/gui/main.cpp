// replicascope: the desktop debugger. With no file it opens the built-in demo (Fashion-MNIST
// when installed, 4 CPU copies); MODEL.pt opens a TorchScript model, RUN.sqlite a recorded run.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QTimer>
#include <cstdio>

#include "engine/engine_controller.h"
#include "replicascope/allocator.h"
#include "widgets/main_window.h"

using replicascope::ui::MainWindow;

int main(int argc, char** argv) {
  replicascope::keep_freed_memory_mapped();
  QApplication app(argc, argv);
  QApplication::setOrganizationName("ReplicaScope");
  QApplication::setApplicationName("ReplicaScope");
  QApplication::setApplicationVersion("0.1.0");

  QCommandLineParser parser;
  parser.setApplicationDescription(
      "ReplicaScope: a visual debugger for data-parallel training with synchronized BatchNorm.");
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument("file",
                               "a TorchScript model (.pt) or a recorded run (.sqlite); "
                               "none: the built-in demo");
  const QCommandLineOption devices("devices", "copies: cpu:N or cuda:I,J (default cpu:4)", "list");
  const QCommandLineOption batch("batch", "the whole batch, split over the copies (default 32)",
                                 "n");
  const QCommandLineOption synthetic("synthetic", "synthetic images instead of Fashion-MNIST");
  const QCommandLineOption unsync("unsync", "per-copy BatchNorm instead of synchronized");
  const QCommandLineOption steps("steps", "train this many steps once open", "n");
  const QCommandLineOption screenshot(
      "screenshot", "after --steps, save the window as PNG to this file and quit", "file");
  parser.addOptions({devices, batch, synthetic, unsync, steps, screenshot});
  parser.process(app);
  if (parser.positionalArguments().size() > 1) {
    std::fprintf(stderr, "replicascope: expected at most one file, got %lld\n",
                 static_cast<long long>(parser.positionalArguments().size()));
    return 2;
  }

  if (!parser.positionalArguments().isEmpty()) {
    const QFileInfo file(parser.positionalArguments().front());
    const auto suffix = file.suffix().toLower();
    if (suffix != "pt" && suffix != "pth" && suffix != "sqlite") {
      std::fprintf(stderr,
                   "replicascope: cannot open '%s': expected a TorchScript model (.pt) or a "
                   "recorded run (.sqlite)\n",
                   qPrintable(file.filePath()));
      return 2;
    }
    if (!file.isReadable()) {
      std::fprintf(stderr, "replicascope: cannot read '%s'\n", qPrintable(file.filePath()));
      return 2;
    }
  }

  MainWindow window;
  bool ok = true;
  const int64_t batch_size = parser.isSet(batch) ? parser.value(batch).toLongLong(&ok) : 32;
  const int64_t step_count = parser.isSet(steps) ? parser.value(steps).toLongLong(&ok) : 0;
  if (!ok || batch_size < 1 || step_count < 0) {
    std::fprintf(stderr, "replicascope: --batch and --steps expect positive whole numbers\n");
    return 2;
  }
  window.show();
  if (parser.isSet(devices) || parser.isSet(batch) || parser.isSet(synthetic) ||
      parser.isSet(unsync)) {
    window.configure(parser.isSet(devices) ? parser.value(devices) : QString(),
                     parser.isSet(batch) ? batch_size : 0, parser.isSet(synthetic),
                     parser.isSet(unsync));
  }
  if (parser.positionalArguments().isEmpty()) {
    window.open_demo();
  } else {
    window.open_file(parser.positionalArguments().front());
  }
  // --steps and --screenshot: train once open, then save the window and quit (docs, tests).
  auto& engine = window.engine();
  const bool shoot = parser.isSet(screenshot);
  const auto shot_path = parser.value(screenshot);
  auto save = [&window, shot_path] {
    try {
      window.save_screenshot(shot_path);
      QApplication::quit();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "replicascope: %s\n", e.what());
      QApplication::exit(1);
    }
  };
  QObject::connect(&engine, &replicascope::ui::EngineController::opened, &window,
                   [&engine, step_count, shoot, save] {
                     if (step_count > 0) {
                       engine.step(step_count);
                     } else if (shoot) {
                       QTimer::singleShot(300, save);
                     }
                   });
  if (shoot) {
    QObject::connect(&engine, &replicascope::ui::EngineController::runningChanged, &window,
                     [save](bool running) {
                       if (!running) QTimer::singleShot(300, save);
                     });
    QObject::connect(&engine, &replicascope::ui::EngineController::failed, &window,
                     [](const QString&) { QApplication::exit(1); });
  }
  return app.exec();
}
