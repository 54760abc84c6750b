// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope_ui_tests models|engine|views [QtTest options]: one QtTest class per ctest entry.
#include <qcustomplot.h>

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QTest>
#include <cstring>

#include "replicascope/base/allocator.h"
#include "replicascope/data/dataset.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/engine/session.h"
#include "replicascope/engine/wiring.h"
#include "replicascope/store/run_writer.h"
#include "ui_tests.h"

QString fixture(const QString& name) {
  return QDir(qEnvironmentVariable("REPLICASCOPE_FIXTURES")).filePath(name);
}

QStringList graph_names(const QCustomPlot& plot) {
  QStringList names;
  for (int g = 0; g < plot.graphCount(); ++g) names << plot.graph(g)->name();
  return names;
}

QString temp_path(const QString& name) {
  const auto dir = QDir::temp().filePath("replicascope-ui-tests-" +
                                         QString::number(QCoreApplication::applicationPid()));
  QDir().mkpath(dir);
  return QDir(dir).filePath(name);
}

QString record_demo_run(const QString& name, double learning_rate, int steps,
                        const replicascope::store::DetailOptions& detail, bool synchronized,
                        const std::string& model) {
  using namespace replicascope;
  const auto path = temp_path(name);
  QFile::remove(path);
  engine::SessionOptions options;
  options.devices = std::vector<torch::Device>(2, torch::Device(torch::kCPU));
  options.batch_size = 8;
  options.learning_rate = learning_rate;
  options.synchronized = synchronized;
  engine::Session session(engine::demo_model(), data::make_synthetic({1, 28, 28}, 10, 64, 1),
                          options);
  auto metadata = engine::run_metadata(options, "", "synthetic");
  if (!model.empty()) metadata["model"] = model;
  const auto modules = session.model().modules();
  store::RunWriter writer(path.toStdString(), metadata,
                          {modules, engine::wiring_of(session.replicas(), modules)}, detail);
  for (int i = 0; i < steps; ++i) writer.append(session.step());
  return path;
}

void start_recording_training(QProcess& train, const QString& path, int steps,
                              const QStringList& extra) {
  QFile::remove(path);
  train.start(REPLICASCOPE_CLI,
              QStringList{"train", "--steps", QString::number(steps), "--batch", "8", "--devices",
                          "cpu:2", "--data", "synthetic", "--seed", "3", "--run", path} +
                  extra);
}

int main(int argc, char** argv) {
  replicascope::keep_freed_memory_mapped();
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  QStandardPaths::setTestModeEnabled(true);  // settings and runs in a test location
  QApplication::setOrganizationName("ReplicaScopeTests");
  QApplication::setApplicationName("ReplicaScopeTests");
  const QString suite = argc < 2 ? QString() : QString(argv[1]);
  if (suite != "models" && suite != "engine" && suite != "views") {
    std::fprintf(stderr, "usage: %s models|engine|views [QtTest options]\n", argv[0]);
    return 2;
  }
  argv[1] = argv[0];  // QtTest sees the remaining options
  if (suite == "models") {
    UiModelsTest test;
    return QTest::qExec(&test, argc - 1, argv + 1);
  }
  if (suite == "views") {
    UiViewsTest test;
    return QTest::qExec(&test, argc - 1, argv + 1);
  }
  UiEngineTest test;
  return QTest::qExec(&test, argc - 1, argv + 1);
}
