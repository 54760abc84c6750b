// SPDX-License-Identifier: GPL-3.0-or-later
// The Qt side's tests (QtTest, offscreen): the item models, the plots and their exports, the
// engine thread with stepping and breakpoints, and the main window.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>
#include <string>

#include "replicascope/store/detail_policy.h"

class QCustomPlot;
class QProcess;

class UiModelsTest : public QObject {
  Q_OBJECT
 private slots:
  void treeOfFixturesPassesTheModelTester();
  void searchKeepsAncestorsOfMatches();
  void wiringMatchesTheCli();
  void wiringFlagsProblems();
  void wiringShowsRanksTimesCopies();
  void historyDropsStepsTheAnswerHolds();
  void exportsWriteValidFiles();
  void exportErrorsLeaveNoFile();
  void copyPutsImageAndCsvOnTheClipboard();
};

class UiEngineTest : public QObject {
  Q_OBJECT
 private slots:
  void steppingUpdatesThePlots();
  void aClickOnALayerIsOneRequestAndOneRedraw();
  void breakpointPausesAndContinuingChangesNothing();
  void stopWhilePausedReleasesEveryCopy();
  void runToEndOfBatchStopsThere();
  void aNewerSeriesRequestReplacesAQueuedOne();
  void redrawsAreThrottled();
  void openingARecordedRunShowsItsHistory();
  void aRecordedRunShowsItsOwnSettings();
  void anUntrainedSessionLeavesNoRunFile();
  void aModelWithoutBatchNormTrainsAndRecordsNothing();
  void aRunBeingWrittenIsFollowed();
  void aSampledRunShowsSummariesAndItsKeptSteps();
  void aDivergedRunIsMarkedInTheStatusBar();
  void aPythonDdpRunShowsItsRanks();
  void badInputIsAnErrorNotACrash();
  void aFixtureModelTrainsOnAnImageFolder();
  void aLiveSessionsPerChannelSliderStaysOnAKeptStep();
  // Every sync point visible (test_ui_sync_points.cpp).
  void aSharedBatchNormShowsBothCallsLive();
  void screenshotOfTheDemo();
  // The window keeps its word (test_ui_window.cpp).
  void theStatusBarSaysWhatIsTrueNow();
  void theNewSessionDialogSaysWhyItDidNotOpen();
  void aRecordedRunLeavesTheNextSessionAsItWas();
  void stepsOfTheCommandLineAreForTheFirstSessionOnly();
  void flagsThatFailLeaveTheToolbarAndRunsOpenByContent();
  void everyStepClickIsAStep();
  void theModulesDockKeepsItsWidth();
  // Models that return a tuple (test_ui_model_output.cpp).
  void aTupleOutputIsSaidOnceInTheStatusBar();
  // Findings (test_ui_findings.cpp).
  void aRunThatExplodesOpensWithItsFindingSelected();
  void aHealthyRunListsNoWarning();
  void aClickOnAFindingGoesToItsLayerAndStep();
  void aLiveSessionShowsAFindingAsItAppears();
  void aStepThatFailsAtASyncPointIsAnErrorFinding();
  void aDamagedRunSaysWhyItWasNotChecked();
  void aFollowedRunIsCheckedAgainAsItGrows();
};

class UiViewsTest : public QObject {
  Q_OBJECT
 private slots:
  void tracerGoesWhenTheViewChanges();
  void tracerGoesWhenTheMouseLeaves();
  void exportsLeaveTheTracerOut();
  void aClickKeepsTheAxesFollowingTheData();
  void aLonePointIsDrawnOnAnAxisFromZero();
  void logScaleSaysWhyValuesAreMissing();
  void anEmptyPlotSaysWhatToDo();
  void anUnsynchronizedSessionIsNotCalledSynchronized();
  void channelsAreToldApartAndExportedTidy();
  void theSessionDialogChecksAndRemembers();
  void divergenceFollowsTheModelOrder();
  void theHeatmapShowsEveryLayerAndSelectsOnClick();
  void helpListsShortcutsAndVersions();
  void legendEntriesToggleTheirLines();
  void aFollowedRunKeepsTheTracerAndHiddenLines();
  void errorsAreSummarized();
  void smoothingIsTensorBoardsAndSaid();
  // Issue 30, section 3 (test_ui_views_faithful.cpp).
  void aOneLayerHeatmapDrawsItsRow();
  void heatmapRowsAreWholeAndTheirNamesApart();
  void theHeatmapTitleNamesWholeLayers();
  void oneLayerIsOneDrawingLiveAndRecorded();
  void longLegendsStayBesideThePlot();
  void aNewSessionResetsTheZoom();
  void severalRanksAreSaidSo();
  // Issue 30, section 2 (test_ui_sync_points.cpp).
  void everySyncPointOfALayerIsShown();
  void aLayerCalledOnceHasNoCallSelector();
  // The window keeps its word (test_ui_window.cpp).
  void theSessionDialogOffersOnlyWhatTheDataTakes();
  void thePerChannelSliderLivesInItsTab();
  void theWindowWorksAt1024x640();
  void searchResultsShowWholeNames();
  // Models that return a tuple (test_ui_model_output.cpp).
  void theSessionDialogTakesAnOutput();
  // Icons (test_ui_icons.cpp).
  void everyActionHasAnIcon();
};

// The one panel of type P in `window` (a test fails when there is none).
template <class P, class W>
P& panel(W& window) {
  auto* found = window.template findChild<P*>();
  if (!found) qFatal("no panel of the expected type in the window");
  return *found;
}

// The names of a plot's lines, in drawing order (legends dedupe them; this does not).
QStringList graph_names(const QCustomPlot& plot);

// How long a test waits for a session to open, a step or a run: a loaded CI machine is slow.
inline constexpr int kWaitMs = 120000;

// Where the fixtures and the build's programs are (from the environment and compile flags).
QString fixture(const QString& name);
QString temp_path(const QString& name);

// `steps` steps of the demo on 2 CPU copies, batch 8, recorded to a new run file in the test's
// folder; `model`, when given, is the model the run says it was trained from.
// Starts `replicascope-cli train` on the demo (synthetic data, 2 copies of 8, seed 3, `steps`
// steps, and the `extra` flags) writing the run `path`, removed first: a run that grows while a
// test watches it.
void start_recording_training(QProcess& train, const QString& path, int steps,
                              const QStringList& extra = {});
QString record_demo_run(const QString& name, double learning_rate, int steps = 4,
                        const replicascope::store::DetailOptions& detail = {},
                        bool synchronized = true, const std::string& model = "");
