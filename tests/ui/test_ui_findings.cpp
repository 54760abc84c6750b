// SPDX-License-Identifier: GPL-3.0-or-later
// The findings in the window (issue 31, "Where findings show"): the Findings dock lists what the
// rules found, a recorded run opens with its most severe finding selected and its steps banded on
// the plots, a click goes to a finding's layer and kept step, the status bar counts them, a live
// session shows a finding at the step it appears, and a run that cannot be checked says why.
#include <qcustomplot.h>
#include <sqlite3.h>

#include <QDockWidget>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QSlider>
#include <QTableView>
#include <QTest>
#include <optional>

#include "panels/findings_panel.h"
#include "panels/statistics/statistics_tabs.h"
#include "panels/statistics/step_band.h"
#include "panels/statistics_view.h"
#include "panels/status_panel.h"
#include "ui_tests.h"
#include "window/main_window.h"

using namespace replicascope;
using namespace replicascope::ui;

namespace {

// Opens `path` in `window` and waits until its findings were checked.
bool open_and_check(MainWindow& window, const QString& path) {
  QSignalSpy checked(&window.context(), &SessionContext::findingsChanged);
  window.open_file(path);
  return checked.wait(kWaitMs);
}

// The finding band drawn on `plot` (a visible rectangle on the band's layer): its step range.
std::optional<QCPRange> band_on(const QCustomPlot& plot) {
  for (int i = 0; i < plot.itemCount(); ++i) {
    const auto* rect = qobject_cast<QCPItemRect*>(plot.item(i));
    if (!rect || !rect->visible() || rect->layer()->name() != StepBand::kLayer) continue;
    return QCPRange(rect->topLeft->coords().x(), rect->bottomRight->coords().x());
  }
  return std::nullopt;
}

// The row of the first finding of `kind` (-1: none).
int row_of(const FindingsModel& model, const std::string& kind) {
  for (int row = 0; row < model.rowCount(); ++row) {
    if (model.findings()[static_cast<size_t>(row)].kind == kind) return row;
  }
  return -1;
}

// Whether any finding is a warning or an error.
bool warns(const std::vector<diagnose::Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(), [](const diagnose::Finding& f) {
    return f.severity != diagnose::Severity::kNote;
  });
}

QString cell(const FindingsModel& model, int row, int column, int role = Qt::DisplayRole) {
  return model.data(model.index(row, column), role).toString();
}

}  // namespace

void UiEngineTest::aRunThatExplodesOpensWithItsFindingSelected() {
  const auto path = record_demo_run("explodes.sqlite", 5.0, 40);
  MainWindow window;
  window.show();
  QVERIFY(open_and_check(window, path));
  auto& findings = panel<FindingsPanel>(window);
  const int row = row_of(findings.model(), "loss-explodes");
  QVERIFY2(row >= 0, qPrintable(findings.summary()));
  const auto finding = findings.model().findings()[static_cast<size_t>(row)];
  QCOMPARE(finding.severity, diagnose::Severity::kWarning);
  QCOMPARE(cell(findings.model(), row, FindingsModel::kSeverity), QString("warning"));
  QCOMPARE(cell(findings.model(), row, FindingsModel::kWhere), QString("the loss"));
  QCOMPARE(cell(findings.model(), row, FindingsModel::kSteps),
           QString("steps %1-%2").arg(finding.first_step).arg(finding.last_step));
  QVERIFY(cell(findings.model(), row, FindingsModel::kEvidence).startsWith("the loss rose from"));
  QVERIFY(
      cell(findings.model(), row, FindingsModel::kKind, Qt::ToolTipRole).contains("What to do"));
  // A run of this version and one process is checked for every kind: nothing to say.
  QVERIFY2(findings.not_checked().isEmpty(), qPrintable(findings.not_checked()));
  // Selected at the open, as the most severe: the row, its details, and the Loss tab's band over
  // its steps.
  QCOMPARE(window.context().selected_finding_index(), row);
  QCOMPARE(findings.table()->selectionModel()->selectedRows().value(0).row(), row);
  QVERIFY2(findings.details().contains(QString::fromStdString(finding.what_to_do).toHtmlEscaped()),
           qPrintable(findings.details()));
  QVERIFY(findings.isVisible());  // the dock came forward (a tab beside Wiring)
  auto& view = panel<StatisticsView>(window);
  QCOMPARE(view.current_plot(), view.plot(StatisticsView::kLoss));
  for (const auto tab :
       {StatisticsView::kLoss, StatisticsView::kOverSteps, StatisticsView::kDivergence}) {
    const auto band = band_on(*view.plot(tab));
    QVERIFY2(band, qPrintable(QString("no band on tab %1").arg(tab)));
    QCOMPARE(band->lower, finding.first_step - 0.5);
    QCOMPARE(band->upper, finding.last_step + 0.5);
  }
  const auto status = panel<StatusPanel>(window).text();
  QVERIFY2(status.endsWith("| 1 warning: see Findings"), qPrintable(status));
  // Deselected, the band goes; another session clears the list, the band and the count.
  window.context().select_finding(-1);
  QVERIFY(!band_on(*view.plot(StatisticsView::kLoss)));
  QVERIFY(findings.table()->selectionModel()->selectedRows().isEmpty());
  window.context().select_finding(row);
  QVERIFY(band_on(*view.plot(StatisticsView::kLoss)));
  QVERIFY(open_and_check(window, record_demo_run("calm.sqlite", 0.05, 30)));
  QVERIFY(!band_on(*view.plot(StatisticsView::kLoss)));
  QVERIFY2(!panel<StatusPanel>(window).text().contains("see Findings"),
           qPrintable(panel<StatusPanel>(window).text()));
}

void UiEngineTest::aHealthyRunListsNoWarning() {
  MainWindow window;
  QVERIFY(open_and_check(window, record_demo_run("healthy.sqlite", 0.05, 30)));
  const auto& report = window.context().findings();
  QVERIFY(report.checked && report.error.isEmpty());
  QCOMPARE(report.steps, int64_t{30});
  auto& findings = panel<FindingsPanel>(window);
  QVERIFY2(!warns(findings.model().findings()), qPrintable(findings.summary()));
  if (findings.model().rowCount() == 0) {
    QCOMPARE(findings.summary(),
             QString("No findings in 30 steps: nothing the rules check looks wrong."));
  }
  const auto status = panel<StatusPanel>(window).text();
  QVERIFY2(!status.contains("warning") && !status.contains("error"), qPrintable(status));
}

// Per-copy BatchNorm on 4 samples per copy: small-per-copy-batch at a layer. A click on it selects
// that layer and call, the kept step nearest its first step, and bands its steps.
void UiEngineTest::aClickOnAFindingGoesToItsLayerAndStep() {
  store::DetailOptions every_fourth;
  every_fourth.steps = store::DetailOptions::kAll;
  every_fourth.every = 4;
  const auto path = record_demo_run("per_copy.sqlite", 0.05, 20, every_fourth, false);
  MainWindow window;
  window.resize(1280, 800);
  window.show();
  QVERIFY(QTest::qWaitForWindowExposed(&window));
  QVERIFY(open_and_check(window, path));
  auto& findings = panel<FindingsPanel>(window);
  const int row = row_of(findings.model(), "small-per-copy-batch");
  QVERIFY2(row >= 0, qPrintable(findings.summary()));
  const auto finding = findings.model().findings()[static_cast<size_t>(row)];
  QVERIFY(!finding.layer.empty());
  // Somewhere else first: another layer, no finding, the newest kept step.
  auto& context = window.context();
  auto& view = panel<StatisticsView>(window);
  context.select_finding(-1);
  context.select(finding.layer == "features.1" ? "head.2" : "features.1");
  view.step_slider()->setValue(view.step_slider()->maximum());
  view.show_tab(StatisticsView::kOverSteps);
  QTRY_VERIFY(findings.isVisible());
  auto* table = findings.table();
  const auto at = table->visualRect(findings.model().index(row, FindingsModel::kKind)).center();
  QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, at);
  QCOMPARE(context.selected_finding_index(), row);
  QCOMPARE(context.selected(), finding.layer);
  QCOMPARE(context.plotted().layer, finding.layer);
  QCOMPARE(context.plotted().sync_point, finding.sync_point);
  QCOMPARE(view.current_plot(), view.plot(StatisticsView::kOverSteps));
  // The kept steps are 1, 5, 9, ...: the slider is on the one nearest the finding's first step.
  const auto& kept = view.kept_steps();
  QVERIFY(!kept.empty());
  int64_t nearest = kept.front();
  for (const auto step : kept) {
    if (std::abs(step - finding.first_step) < std::abs(nearest - finding.first_step))
      nearest = step;
  }
  QCOMPARE(kept[static_cast<size_t>(view.step_slider()->value())], nearest);
  const auto band = band_on(*view.plot(StatisticsView::kOverSteps));
  QVERIFY(band);
  QCOMPARE(band->lower, finding.first_step - 0.5);
  QCOMPARE(band->upper, finding.last_step + 0.5);
  QVERIFY(findings.details().contains(QString::fromStdString(finding.layer)));
  // The heatmap outlines that layer's row over the same steps, above its cells.
  view.show_tab(StatisticsView::kHeatmap);
  auto& heatmap = static_cast<HeatmapTab&>(*view.plot(StatisticsView::kHeatmap));
  QTRY_VERIFY(heatmap.band().shown());
  QVERIFY(heatmap.band().row());
  const auto marked = heatmap.call_at(heatmap.yAxis->coordToPixel(*heatmap.band().row()));
  QCOMPARE(marked.layer, finding.layer);
  QCOMPARE(marked.sync_point, finding.sync_point);
  QCOMPARE(heatmap.band().left(), finding.first_step - 0.5);
  QCOMPARE(heatmap.band().right(), finding.last_step + 0.5);
  context.select_finding(-1);
  QTRY_VERIFY(!heatmap.band().shown());
}

// A live session at lr 5: the loss explodes, and the dock lists it at the step it is found,
// the status bar counting it; a Reset clears both.
void UiEngineTest::aLiveSessionShowsAFindingAsItAppears() {
  MainWindow window;
  window.configure("cpu:2", 8, /*synthetic=*/true, false);
  auto spec = window.session_spec();
  spec.learning_rate = 5.0;
  window.set_session_spec(spec);
  window.show();
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_demo();
  QVERIFY(opened.wait(kWaitMs));
  auto& findings = panel<FindingsPanel>(window);
  int64_t appeared_at = 0;
  bool listed_then = false;
  QString status_then;
  connect(&window.context(), &SessionContext::findingsChanged, &window,
          [&](const FindingsPtr& report) {
            if (appeared_at || row_of(findings.model(), "loss-explodes") < 0) return;
            appeared_at = report->steps;
            listed_then = findings.isVisible();
            status_then = panel<StatusPanel>(window).text();
          });
  window.context().step(40);
  QTRY_COMPARE_WITH_TIMEOUT(window.context().findings().steps, int64_t{40}, kWaitMs);
  QVERIFY2(appeared_at > 0 && appeared_at < 40, qPrintable(QString::number(appeared_at)));
  QVERIFY(listed_then);  // in the dock, brought forward, at that step
  QVERIFY2(status_then.contains("1 warning: see Findings"), qPrintable(status_then));
  QVERIFY(!window.context().selected_finding());  // live, the user picks
  QVERIFY(findings.summary().endsWith("in 40 steps: click one to go to its layer and steps."));
  QSignalSpy reset(&window.context(), &SessionContext::findingsChanged);
  window.context().reset();
  QTRY_COMPARE_WITH_TIMEOUT(findings.model().rowCount(), 0, kWaitMs);
  QVERIFY(!panel<StatusPanel>(window).text().contains("see Findings"));
}

// A model whose copies call a BatchNorm unequally (branch_on_data: a batch of 5 on 2 copies): the
// step fails naming the sync point, and the Findings dock lists it as an error at that layer.
void UiEngineTest::aStepThatFailsAtASyncPointIsAnErrorFinding() {
  MainWindow window;
  window.configure("cpu:2", 5, /*synthetic=*/true, false);
  auto spec = window.session_spec();
  spec.image = {16};
  window.set_session_spec(spec);
  window.show();
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  window.open_file(fixture("branch_on_data.pt"), /*with_remembered=*/false);
  QVERIFY(opened.wait(kWaitMs));
  window.context().step(1);
  auto& findings = panel<FindingsPanel>(window);
  QTRY_VERIFY_WITH_TIMEOUT(row_of(findings.model(), "sync-points-disagree") >= 0, kWaitMs);
  const auto& found =
      findings.model()
          .findings()[static_cast<size_t>(row_of(findings.model(), "sync-points-disagree"))];
  QCOMPARE(found.severity, diagnose::Severity::kError);
  QCOMPARE(found.layer, std::string("bn"));
  QCOMPARE(found.first_step, int64_t{1});
  QVERIFY2(panel<StatusPanel>(window).text().contains("1 error"),
           qPrintable(panel<StatusPanel>(window).text()));
}

// A run whose summaries are damaged opens (its steps and layers are whole), and says why it could
// not be checked, in the dock and where read errors go.
void UiEngineTest::aDamagedRunSaysWhyItWasNotChecked() {
  const auto path = record_demo_run("damaged_summaries.sqlite", 0.05, 6);
  sqlite3* db = nullptr;
  QCOMPARE(sqlite3_open(path.toUtf8().constData(), &db), SQLITE_OK);
  QCOMPARE(sqlite3_exec(db, "UPDATE summaries SET copies = X'0102' WHERE step = 3", nullptr,
                        nullptr, nullptr),
           SQLITE_OK);
  sqlite3_close(db);
  MainWindow window;
  QSignalSpy failed(&window.context(), &SessionContext::failed);
  QVERIFY(open_and_check(window, path));
  const auto& findings = panel<FindingsPanel>(window);
  QVERIFY2(findings.summary().startsWith("Could not check this run: run '" + path +
                                         "': damaged row in table summaries (step 3"),
           qPrintable(findings.summary()));
  QTRY_VERIFY(!failed.isEmpty());
  bool said = false;
  for (const auto& args : failed) {
    said |= args.at(0).toString().startsWith("could not check the run for findings: run '");
  }
  QVERIFY(said);
}

// A run another process is writing (train at lr 5) is checked again as it grows, at most once a
// second, until its last step: the loss's finding shows while it is followed.
void UiEngineTest::aFollowedRunIsCheckedAgainAsItGrows() {
  const auto path = temp_path("growing.sqlite");
  constexpr int kSteps = 600;
  QProcess train;
  start_recording_training(train, path, kSteps, {"--lr", "5"});
  QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(path), kWaitMs);
  MainWindow window;
  QElapsedTimer clock;
  clock.start();
  std::vector<qint64> checked_at;
  std::vector<int64_t> steps_checked;
  connect(&window.context(), &SessionContext::findingsChanged, &window,
          [&](const FindingsPtr& report) {
            checked_at.push_back(clock.elapsed());
            steps_checked.push_back(report->steps);
          });
  window.open_file(path);
  // Waiting with the event loop running, as the window does while the run grows.
  QTRY_VERIFY_WITH_TIMEOUT(train.state() == QProcess::NotRunning, kWaitMs);
  QCOMPARE(train.exitCode(), 0);
  QTRY_VERIFY_WITH_TIMEOUT(!steps_checked.empty() && steps_checked.back() == kSteps, 30000);
  QVERIFY2(steps_checked.front() < kSteps, "the training ended before the run was checked");
  QVERIFY2(checked_at.size() >= 3, qPrintable(QString("%1 checks").arg(checked_at.size())));
  for (size_t i = 1; i < checked_at.size(); ++i) {
    QVERIFY2(checked_at[i] - checked_at[i - 1] >= 800,
             qPrintable(QString("checked %1 ms after the check before")
                            .arg(checked_at[i] - checked_at[i - 1])));
  }
  QVERIFY(row_of(panel<FindingsPanel>(window).model(), "loss-explodes") >= 0);
}
