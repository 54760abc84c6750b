// SPDX-License-Identifier: GPL-3.0-or-later
// What travels between the engine thread and the UI: plain values behind shared pointers, so
// that a queued signal copies a pointer, not a step's statistics.
#pragma once

#include <QMetaType>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "replicascope/base/records.h"
#include "replicascope/diagnose/finding.h"
#include "replicascope/engine/session_spec.h"
#include "replicascope/store/series.h"

namespace replicascope::ui {

// A training session as the user chose it: core's description of it (the same as the CLI's
// train flags; its run path is chosen by the engine), and the folder its run files go to.
struct SessionSetup {
  engine::SessionSpec spec;
  QString runs_dir;
};

// Step and Step N add to the steps still to do, so that a click during a step is not lost; the
// steps waiting never pass this bound (the toolbar's Step N count has it as its maximum too).
constexpr int64_t kMaxQueuedSteps = 1'000'000;

// A spec as command-line flags and back (engine::session_spec_flags, set_session_flag), as
// settings keep it and signals carry it; session_from_flags throws UsageError for flags that do
// not make one.
QStringList session_flags_of(const engine::SessionSpec& spec);
engine::SessionSpec session_from_flags(const QStringList& flags);

using replicascope::Wiring;
using replicascope::WiringCell;
using replicascope::WiringRow;

// What a recorded run holds of every step: its rows and every layer's divergence (a recorded
// run as opened, read again while it grows, or compared with).
struct RecordedHistory {
  std::vector<store::StepRow> steps;
  // Each sync point's: a layer called twice a step has two points a step (RunReader's each_call).
  std::map<std::string, std::vector<store::DivergencePoint>> divergence;
};

// What a session (or a recorded run) shows before any step: the model and its wiring.
struct ModelSnapshot {
  QString source;    // the model file, or "demo"
  QString kind;      // "torchscript", "frontend" or "run"
  QString run_path;  // the run database being written, or the one opened
  bool live = true;  // false: a recorded run, nothing to train
  QStringList devices;
  int64_t batch = 0;         // the whole batch (0: a run that did not record it)
  bool synchronized = true;  // false: each copy's BatchNorm uses its own statistics
  // Said once in the status bar as a live session opens: which element of the tuple forward()
  // returns it trains on (OutputChoice::notice); "" when forward() returns a tensor.
  QString notice;
  std::vector<ModelModule> modules;
  Wiring wiring;             // a recorded run's from its metadata (empty for older runs)
  RecordedHistory recorded;  // a recorded run's (empty for a live session)
};

// Which series the statistics plot shows; answered from the run database.
struct SeriesRequest {
  int generation = 0;  // the answer carries it back, so that stale answers are dropped
  store::SeriesSelection selection;
  QStringList overlay_paths;  // other runs drawn under this one (sync versus unsync)
};

// One compared run's series of the selection.
struct OverlaySeries {
  QString path;
  std::vector<store::Series> series;
  bool synchronized = true;  // the run's layers used synchronized statistics
};

struct SeriesReply {
  int generation = 0;
  std::vector<store::Series> series;
  std::vector<OverlaySeries> overlays;  // in the request's order
  QString error;
};

// Every channel of one layer at one step of a recorded run (the Per-channel view's step slider).
struct ChannelsRequest {
  std::string layer;
  int64_t sync_point = 0;
  int64_t step = 0;
  QStringList compared;  // compared runs, read at the same step too
};

// One compared run's channels at the requested step (null when it kept none there).
struct ComparedChannels {
  QString path;
  std::shared_ptr<const replicascope::StepRecord> record;
};

struct ChannelsReply {
  ChannelsRequest request;
  // The step with that one layer, as a live step has it; null when the step kept no detail.
  std::shared_ptr<const replicascope::StepRecord> record;
  std::vector<ComparedChannels> compared;  // in the request's order
  QString error;
};

// A recorded run read again while another process may still write it (train --run, rank 0 of
// train --dist): its steps and divergence so far, or why it could not be read.
struct RunPoll {
  QString run_path;
  bool grew = false;  // steps came since the last read (then `recorded` is set)
  RecordedHistory recorded;
  double read_ms = 0;  // how long the read took (the next one waits longer for a big run)
  QString error;
};

// All copies paused at a sync point: what each brought and the reduced result.
struct BreakpointHit {
  int64_t step = 0;
  replicascope::LayerStats stats;
};

// What the rules found in what is open: a live session's Diagnosis after its step, or a recorded
// run read through diagnose_run (at its open, and again as a followed run grows).
struct FindingsReport {
  bool live = true;
  bool checked = false;  // false: nothing checked yet (a session just opened or reset)
  int64_t steps = 0;     // the steps checked (a live session's steps so far, a run's steps)
  std::vector<diagnose::Finding> findings;  // errors first, then warnings, notes; by first step
  QString error;                            // why a recorded run could not be checked
  std::vector<diagnose::NotChecked> not_checked;  // the kinds it could not check, and why
};

using StepRecordPtr = std::shared_ptr<const replicascope::StepRecord>;
using ModelSnapshotPtr = std::shared_ptr<const ModelSnapshot>;
using SeriesReplyPtr = std::shared_ptr<const SeriesReply>;
using BreakpointHitPtr = std::shared_ptr<const BreakpointHit>;
using ChannelsReplyPtr = std::shared_ptr<const ChannelsReply>;
using RunPollPtr = std::shared_ptr<const RunPoll>;
using FindingsPtr = std::shared_ptr<const FindingsReport>;

// The steps of a live session's run that kept every channel (the Per-channel step slider).
struct KeptSteps {
  QString run_path;
  std::vector<int64_t> steps;
  QString error;
};
using KeptStepsPtr = std::shared_ptr<const KeptSteps>;

}  // namespace replicascope::ui

Q_DECLARE_METATYPE(replicascope::ui::SessionSetup)
Q_DECLARE_METATYPE(replicascope::ui::StepRecordPtr)
Q_DECLARE_METATYPE(replicascope::ui::ModelSnapshotPtr)
Q_DECLARE_METATYPE(replicascope::ui::SeriesReplyPtr)
Q_DECLARE_METATYPE(replicascope::ui::BreakpointHitPtr)
Q_DECLARE_METATYPE(replicascope::ui::ChannelsReplyPtr)
Q_DECLARE_METATYPE(replicascope::ui::RunPollPtr)
Q_DECLARE_METATYPE(replicascope::ui::KeptStepsPtr)
Q_DECLARE_METATYPE(replicascope::ui::FindingsPtr)
