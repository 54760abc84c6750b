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

#include "replicascope/engine/session.h"
#include "replicascope/model/model.h"
#include "replicascope/store/series.h"

namespace replicascope::ui {

// A training session as the user chose it.
struct SessionSpec {
  QString model_path;  // a TorchScript file; empty: the built-in demo
  QString devices = "cpu:4";
  int64_t batch_size = 32;  // the whole batch, split over the copies
  bool synchronized = true;
  bool synthetic = false;  // synthetic images even when Fashion-MNIST is installed
  uint64_t seed = 0;
  double learning_rate = 0.05;
  QString runs_dir;  // where the run database is written
};

// One cell of the wiring grid: a module index on one copy.
struct WiringCell {
  bool present = true;  // the copy has a module at this index, of the master's type
  bool called = false;  // its replication callback ran
  int order = -1;       // its place in the order the callbacks ran
};

// One module index across the copies: its context and what each copy's callback did.
struct WiringRow {
  int context_id = 0;
  QString module, type;
  bool expects_callbacks = false;  // the module opts in to replication callbacks
  std::vector<WiringCell> copies;
  // A module missing on a copy, or a callback that should have run and did not.
  bool problem(size_t copy) const {
    const auto& cell = copies.at(copy);
    return !cell.present || (expects_callbacks && !cell.called);
  }
};

// What a session (or a recorded run) shows before any step: the model and its wiring.
struct ModelSnapshot {
  QString source;    // the model file, or "demo"
  QString kind;      // "torchscript", "frontend" or "run"
  QString run_path;  // the run database being written, or the one opened
  bool live = true;  // false: a recorded run, nothing to train
  QStringList devices;
  std::vector<ModelModule> modules;
  std::vector<WiringRow> wiring;
  // A recorded run's history (empty for a live session).
  std::vector<store::StepRow> recorded_steps;
  std::map<std::string, std::vector<std::pair<int64_t, double>>> recorded_divergence;
};

// Which series the statistics plot shows; answered from the run database.
struct SeriesRequest {
  int generation = 0;  // the answer carries it back, so that stale answers are dropped
  std::string layer;
  std::string statistic = "mean";
  int64_t first_channel = 0, last_channel = 0;
  QString overlay_path;  // another run drawn under this one (sync versus unsync)
};

struct SeriesReply {
  int generation = 0;
  std::vector<store::Series> series, overlay;
  QString error;
};

// All copies paused at a sync point: what each brought and the reduced result.
struct BreakpointHit {
  int64_t step = 0;
  engine::LayerStats stats;
};

using StepRecordPtr = std::shared_ptr<const engine::StepRecord>;
using ModelSnapshotPtr = std::shared_ptr<const ModelSnapshot>;
using SeriesReplyPtr = std::shared_ptr<const SeriesReply>;
using BreakpointHitPtr = std::shared_ptr<const BreakpointHit>;

// Builds the wiring grid of replicated copies; `modules` is the model's module list.
std::vector<WiringRow> wiring_rows(const ModelReplicas& replicas,
                                   const std::vector<ModelModule>& modules);

}  // namespace replicascope::ui

Q_DECLARE_METATYPE(replicascope::ui::SessionSpec)
Q_DECLARE_METATYPE(replicascope::ui::StepRecordPtr)
Q_DECLARE_METATYPE(replicascope::ui::ModelSnapshotPtr)
Q_DECLARE_METATYPE(replicascope::ui::SeriesReplyPtr)
Q_DECLARE_METATYPE(replicascope::ui::BreakpointHitPtr)
