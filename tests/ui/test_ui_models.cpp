// SPDX-License-Identifier: GPL-3.0-or-later
#include <qcustomplot.h>

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QClipboard>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMimeData>
#include <QProcess>
#include <QTest>
#include <functional>

#include "controller/engine_types.h"
#include "history/stats_history.h"
#include "itemmodels/module_filter.h"
#include "itemmodels/module_tree_model.h"
#include "itemmodels/wiring_model.h"
#include "plot/plot_tools.h"
#include "plot/statistics_plot.h"
#include "replicascope/engine/wiring.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/store/run_model.h"
#include "replicascope/torchscript/module_file.h"
#include "ui_tests.h"

using namespace replicascope;
using namespace replicascope::ui;

namespace {

std::vector<torch::Device> cpu_copies(int n) {
  return std::vector<torch::Device>(n, torch::Device(torch::kCPU));
}

struct LoadedFixture {
  std::unique_ptr<ScriptedModel> model;
  std::unique_ptr<ModelReplicas> replicas;
  std::vector<ModelModule> modules;
  replicascope::Wiring wiring;
};

LoadedFixture load(const QString& name, int copies) {
  LoadedFixture f;
  f.model = ScriptedModel::load(fixture(name).toStdString());
  f.replicas = f.model->replicate(cpu_copies(copies));
  f.modules = f.model->modules();
  f.wiring = engine::wiring_of(*f.replicas, f.modules);
  return f;
}

int count_rows(const QAbstractItemModel& model, const QModelIndex& parent = {}) {
  int n = 0;
  for (int r = 0; r < model.rowCount(parent); ++r)
    n += 1 + count_rows(model, model.index(r, 0, parent));
  return n;
}

std::vector<store::Series> sample_series() {
  std::vector<store::Series> out;
  const std::pair<SeriesKey, double> keys[] = {{SeriesKey::copy(0), 0.0},
                                               {SeriesKey::copy(1), 1.0},
                                               {SeriesKey::synchronized(), -1.0},
                                               {SeriesKey::running(), -2.0}};
  for (const auto& [key, offset] : keys) {
    store::Series s{key, 0, {}, {}};
    for (int step = 1; step <= 5; ++step) {
      s.steps.push_back(step);
      s.values.push_back(0.1 * step + offset);
    }
    out.push_back(s);
  }
  return out;
}

QByteArray read_all(const QString& path) {
  QFile file(path);
  return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

}  // namespace

void UiModelsTest::treeOfFixturesPassesTheModelTester() {
  for (const auto* name : {"mlp.pt", "resnet18.pt", "reused_bn.pt"}) {
    auto f = load(name, 2);
    ModuleTreeModel tree;
    QAbstractItemModelTester tester(&tree, QAbstractItemModelTester::FailureReportingMode::QtTest);
    tree.set_modules(f.modules, f.wiring.rows);
    QCOMPARE(count_rows(tree), static_cast<int>(f.modules.size()));
    QCOMPARE(tree.rowCount(), 1);  // the model itself
    int synchronized = 0, with_context = 0;
    for (const auto& m : f.modules) {
      const auto index = tree.index_of(m.name);
      QVERIFY2(index.isValid(), m.name.c_str());
      QCOMPARE(index.data(ModuleTreeModel::kQualifiedNameRole).toString().toStdString(), m.name);
      QCOMPARE(index.data(ModuleTreeModel::kSynchronizedRole).toBool(), m.synchronized);
      QCOMPARE(index.siblingAtColumn(ModuleTreeModel::kType).data().toString().toStdString(),
               m.type);
      synchronized += m.synchronized;
      with_context += index.siblingAtColumn(ModuleTreeModel::kContext).data().isValid();
      // Parent and child agree with the qualified names: "a.b.c" sits under "a.b".
      const auto dot = m.name.rfind('.');
      if (!m.name.empty()) {
        const auto parent_name = dot == std::string::npos ? std::string() : m.name.substr(0, dot);
        QCOMPARE(tree.parent(index), tree.index_of(parent_name));
      }
    }
    QVERIFY(synchronized > 0);
    QCOMPARE(with_context, static_cast<int>(f.wiring.rows.size()));
    tree.set_breakpoints({f.wiring.rows.back().module});
  }
}

void UiModelsTest::searchKeepsAncestorsOfMatches() {
  auto f = load("resnet18.pt", 2);
  ModuleTreeModel tree;
  tree.set_modules(f.modules, f.wiring.rows);
  ModuleFilter filter;
  QAbstractItemModelTester tester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
  filter.setSourceModel(&tree);
  filter.set_search("downsample");
  // layer2.0.downsample is visible under (model) > layer2 > 0; layer1 has none.
  const auto root = filter.index(0, 0);
  QVERIFY(root.isValid());
  QStringList top;
  for (int r = 0; r < filter.rowCount(root); ++r) top << filter.index(r, 0, root).data().toString();
  QCOMPARE(top, (QStringList{"layer2", "layer3", "layer4"}));
  const auto block = filter.index(0, 0, filter.index(0, 0, root));
  QCOMPARE(block.data(ModuleTreeModel::kQualifiedNameRole).toString(), QString("layer2.0"));
  const auto match = filter.index(0, 0, block);
  QCOMPARE(match.data(ModuleTreeModel::kQualifiedNameRole).toString(),
           QString("layer2.0.downsample"));
  // A match keeps what is inside it: downsample's conv and BatchNorm.
  QCOMPARE(filter.rowCount(match), 2);

  // A dotted name matches as a whole ("layer2.0.bn" finds layer2.0's bn1 and bn2), and the
  // type column still does ("BatchNorm" finds the bn layers).
  const auto names_shown = [&filter] {
    QStringList out;
    std::function<void(const QModelIndex&)> walk = [&](const QModelIndex& parent) {
      for (int r = 0; r < filter.rowCount(parent); ++r) {
        const auto at = filter.index(r, 0, parent);
        out << at.data(ModuleTreeModel::kQualifiedNameRole).toString();
        walk(at);
      }
    };
    walk({});
    return out;
  };
  filter.set_search("layer2.0.bn");
  QCOMPARE(names_shown(), (QStringList{"", "layer2", "layer2.0", "layer2.0.bn1", "layer2.0.bn2"}));
  // A block that matches shows its layers, its parent's other blocks do not show.
  filter.set_search("LAYER4.1");
  const auto in_block = names_shown();
  QVERIFY2(in_block.contains("layer4.1.conv2") && in_block.contains("layer4.1.bn2"),
           qPrintable(in_block.join(' ')));
  QVERIFY2(!in_block.contains("layer4.0"), qPrintable(in_block.join(' ')));
  filter.set_search("");
  QCOMPARE(filter.rowCount(filter.index(0, 0)), tree.rowCount(tree.index(0, 0)));
}

void UiModelsTest::wiringMatchesTheCli() {
  const auto path = fixture("resnet18.pt");
  QProcess cli;
  cli.start(REPLICASCOPE_CLI, {"wiring", path, "--devices", "cpu:3", "--json"});
  QVERIFY(cli.waitForFinished(120000));
  QCOMPARE(cli.exitCode(), 0);
  const auto json = QJsonDocument::fromJson(cli.readAllStandardOutput()).object();
  const auto contexts = json["contexts"].toArray();
  QVERIFY(!contexts.isEmpty());

  auto f = load("resnet18.pt", 3);
  WiringModel wiring;
  QAbstractItemModelTester tester(&wiring, QAbstractItemModelTester::FailureReportingMode::QtTest);
  QStringList devices;
  for (const auto& d : json["devices"].toArray()) devices << d.toString();
  QCOMPARE(QString::fromStdString(f.wiring.devices.at(2)), devices.at(2));
  wiring.set_wiring(f.wiring);
  QCOMPARE(wiring.columnCount(), WiringModel::kFixedColumns + 3);
  int called_rows = 0;
  for (int r = 0; r < wiring.rowCount(); ++r) {
    called_rows +=
        wiring.index(r, WiringModel::kFixedColumns).data(WiringModel::kOrderRole).toInt() >= 0;
  }
  QCOMPARE(called_rows, static_cast<int>(contexts.size()));
  for (const auto& value : contexts) {
    const auto ctx = value.toObject();
    const int row = wiring.row_of(ctx["module"].toString());
    QVERIFY2(row >= 0, qPrintable(ctx["module"].toString()));
    QCOMPARE(wiring.index(row, 0).data(WiringModel::kContextRole).toInt(), ctx["id"].toInt());
    QCOMPARE(wiring.index(row, 1).data().toString().toStdString(),
             script::readable_type(ctx["type"].toString().toStdString()));
    for (const auto& c : ctx["copies"].toArray()) {
      const auto call = c.toObject();
      const auto cell = wiring.index(row, WiringModel::kFixedColumns + call["copy"].toInt());
      QCOMPARE(cell.data(WiringModel::kOrderRole).toInt(), call["order"].toInt());
      QCOMPARE(cell.data(WiringModel::kRoleRole).toString(), call["role"].toString());
      QCOMPARE(cell.data(WiringModel::kDeviceRole).toString(), call["device"].toString());
      QCOMPARE(cell.data(WiringModel::kProblemRole).toBool(), false);
    }
  }
  QCOMPARE(wiring.problem_count(), 0);
}

void UiModelsTest::wiringFlagsProblems() {
  WiringRow bn;
  bn.context_id = 3;
  bn.module = "features.1";
  bn.type = "BatchNorm2d";
  bn.expects_callbacks = true;
  bn.copies = {{true, true, 0}, {true, false, -1}, {false, false, -1}};
  WiringRow relu = bn;
  relu.module = "features.2";
  relu.expects_callbacks = false;
  relu.copies = {{true, false, -1}, {true, false, -1}, {true, false, -1}};
  WiringModel wiring;
  replicascope::Wiring grid;
  grid.devices = {"cpu", "cpu", "cpu"};
  grid.copies_per_rank = 3;
  grid.rows = {bn, relu};
  wiring.set_wiring(grid);
  QCOMPARE(wiring.problem_count(), 2);
  const int c0 = WiringModel::kFixedColumns;
  QCOMPARE(wiring.index(0, c0).data().toString(), QString("ctx 3 · master · cpu · #0"));
  QCOMPARE(wiring.index(0, c0 + 1).data().toString(), QString("no callback"));
  QCOMPARE(wiring.index(0, c0 + 2).data().toString(), QString("missing"));
  QVERIFY(wiring.index(0, c0 + 2).data(WiringModel::kProblemRole).toBool());
  QVERIFY(!wiring.index(1, c0 + 1).data(WiringModel::kProblemRole).toBool());
}

// Two processes of two copies each, as a run recorded with --dist keeps them (through the text
// form in its metadata): four columns, headed by rank and copy; each rank's copy 0 is its master.
void UiModelsTest::wiringShowsRanksTimesCopies() {
  auto f = load("resnet18.pt", 2);
  replicascope::Wiring two_ranks = f.wiring;
  two_ranks.devices = {"cpu", "cpu", "cpu", "cpu"};
  for (auto& row : two_ranks.rows) {
    const auto mine = row.copies;
    row.copies.insert(row.copies.end(), mine.begin(), mine.end());
  }
  two_ranks.rows.front().copies[3].present = false;  // rank 1's copy 1 lacks the root module
  const auto read_back = store::wiring_from_text(store::wiring_to_text(two_ranks));
  QCOMPARE(read_back.ranks(), 2);
  WiringModel wiring;
  QAbstractItemModelTester tester(&wiring, QAbstractItemModelTester::FailureReportingMode::QtTest);
  wiring.set_wiring(read_back);
  const int c0 = WiringModel::kFixedColumns;
  QCOMPARE(wiring.columnCount(), c0 + 4);
  QCOMPARE(wiring.headerData(c0 + 2, Qt::Horizontal).toString(), QString("rank 1 · copy 0 (cpu)"));
  const int bn = wiring.row_of("bn1");
  QVERIFY(bn >= 0);
  for (int column = 0; column < 4; ++column) {
    const auto cell = wiring.index(bn, c0 + column);
    QCOMPARE(cell.data(WiringModel::kRankRole).toInt(), column / 2);
    QCOMPARE(cell.data(WiringModel::kRoleRole).toString(),
             QString(column % 2 == 0 ? "master" : "slave"));
    QCOMPARE(cell.data(WiringModel::kOrderRole).toInt(),
             wiring.index(bn, c0 + column % 2).data(WiringModel::kOrderRole).toInt());
  }
  QCOMPARE(wiring.problem_count(), 1);
  QVERIFY(wiring.index(0, c0 + 3).data(Qt::ToolTipRole).toString().startsWith("rank 1 copy 1"));
  QVERIFY_EXCEPTION_THROWN(store::wiring_from_text("not a wiring"), std::invalid_argument);
}

void UiModelsTest::historyDropsStepsTheAnswerHolds() {
  replicascope::StepRecord record;
  record.step = 1;
  replicascope::LayerStats layer;
  layer.layer = "bn";
  layer.copies = {{0, 4, {1.0, 2.0}, {0.5, 0.5}}, {1, 4, {3.0, 4.0}, {0.5, 0.5}}};
  layer.mean = {2.0, 3.0};
  layer.var = {1.5, 1.5};
  record.layers = {layer};
  StatsHistory history;
  auto request = history.select({"bn", Statistic::kMean, 1, 1}, {});
  QVERIFY(history.awaiting());
  history.append(record);  // in flight before the answer: the answer holds it
  QVERIFY(history.series().empty());
  QCOMPARE(history.steps().size(), size_t{1});
  SeriesReply stale;
  stale.generation = request.generation - 1;
  QVERIFY(!history.accept(stale));
  SeriesReply reply;
  reply.generation = request.generation;
  reply.series = {{SeriesKey::copy(0), 1, {1}, {2.0}},
                  {SeriesKey::copy(1), 1, {1}, {4.0}},
                  {SeriesKey::synchronized(), 1, {1}, {3.0}}};
  QVERIFY(history.accept(reply));
  record.step = 2;
  history.append(record);
  QCOMPARE(history.series().size(), size_t{3});
  QCOMPARE(history.series()[1].values, (std::vector<double>{4.0, 4.0}));
  QCOMPARE(history.series()[2].steps, (std::vector<double>{1, 2}));
  // A selection made before any step: the first step defines the series (no running stats).
  history.select({"bn", Statistic::kVar, 0, 1}, {});
  SeriesReply empty;
  empty.generation = request.generation + 1;
  QVERIFY(history.accept(empty));
  history.append(record);
  QCOMPARE(history.series().size(), size_t{6});  // copies 0, 1 and synchronized, 2 channels
  QCOMPARE(history.divergence().at("bn").values.size(), size_t{3});
}

void UiModelsTest::exportsWriteValidFiles() {
  QCustomPlot plot;
  draw_statistics(plot, sample_series(), {"bn: mean", "step", "mean"});
  const struct {
    const char* name;
    QByteArray magic;
  } files[] = {{"plot.png", "\x89PNG"}, {"plot.jpg", "\xFF\xD8\xFF"}, {"plot.pdf", "%PDF"}};
  for (const auto& f : files) {
    const auto path = temp_path(f.name);
    QFile::remove(path);
    save_plot(plot, path, 640, 480);
    QVERIFY2(read_all(path).startsWith(f.magic), f.name);
  }
  QCOMPARE(QImage(temp_path("plot.png")).size(), QSize(640, 480));
  QCOMPARE(QImage(temp_path("plot.jpg")).size(), QSize(640, 480));
  save_plot(plot, temp_path("plot.svg"), 640, 480);
  const auto svg = read_all(temp_path("plot.svg"));
  QVERIFY(svg.contains("<svg") && svg.contains("</svg>"));

  // CSV: only what is visible, every visible line, inside the x range.
  plot.xAxis->setRange(2, 3);
  plot.graph(1)->setVisible(false);
  save_visible_csv(plot, temp_path("plot.csv"));
  const auto lines = QString(read_all(temp_path("plot.csv"))).split('\n', Qt::SkipEmptyParts);
  QCOMPARE(lines.front(), QString("layer,sync_point,statistic,series,channel,step,value"));
  QCOMPARE(lines.size(), 1 + 3 * 2);  // three visible lines, steps 2 and 3
  QVERIFY2(lines.contains(",,mean,synchronized,0,2,-0.80000000000000004"),
           qPrintable(lines.join('\n')));
  for (const auto& line : lines.mid(1)) QVERIFY2(!line.contains("copy 1"), qPrintable(line));
  // With a legend entry selected, only that series.
  plot.legend->itemWithPlottable(plot.graph(3))->setSelected(true);
  const auto running = visible_csv(plot).split('\n', Qt::SkipEmptyParts);
  QCOMPARE(running.size(), 1 + 2);
  QVERIFY(running[1].startsWith(",,mean,running,0,2,"));
}

void UiModelsTest::exportErrorsLeaveNoFile() {
  QCustomPlot plot;
  draw_statistics(plot, sample_series(), {"bn", "step", "mean"});
  QVERIFY_THROWS_EXCEPTION(std::runtime_error, save_plot(plot, temp_path("plot.bmp"), 100, 100));
  QVERIFY(!QFile::exists(temp_path("plot.bmp")));
  try {
    save_plot(plot, "/nonexistent-dir/plot.png", 100, 100);
    QFAIL("expected an error for an unwritable path");
  } catch (const std::runtime_error& e) {
    QVERIFY2(QString(e.what()).contains("/nonexistent-dir/plot.png"), e.what());
  }
  QVERIFY_THROWS_EXCEPTION(std::runtime_error, save_visible_csv(plot, "/nonexistent-dir/p.csv"));
}

void UiModelsTest::copyPutsImageAndCsvOnTheClipboard() {
  QCustomPlot plot;
  draw_statistics(plot, sample_series(), {"bn", "step", "mean"});
  copy_plot_to_clipboard(plot, 300, 200);
  const auto* mime = QApplication::clipboard()->mimeData();
  QVERIFY(mime);
  QVERIFY(mime->hasImage());
  QCOMPARE(qvariant_cast<QImage>(mime->imageData()).size(), QSize(300, 200));
  QVERIFY(mime->text().startsWith(
      "layer,sync_point,statistic,series,channel,step,value\n,,mean,copy 0,0,1,"));
}
