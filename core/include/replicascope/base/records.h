// SPDX-License-Identifier: MIT
// What a training step records, as plain values: one neutral header (no LibTorch, no Qt) for the
// engine that makes them, the run file that keeps them and the UI that draws them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace replicascope {

// A per-channel statistic of a batch norm layer's input.
enum class Statistic { kMean, kVar };
const char* statistic_name(Statistic statistic);  // "mean", "var"
// "mean" or "var"; throws std::invalid_argument naming what was given.
Statistic parse_statistic(const std::string& name);

// Whose statistics a line shows: one copy's, the synchronized ones (what every copy normalized
// with), the running ones after the step (rank 0's), one rank's over its copies (several
// processes), or another rank's running ones (several processes, the Python recorder).
struct SeriesKey {
  enum class Kind { kCopy, kSynchronized, kRunning, kRank, kRankRunning };
  Kind kind = Kind::kCopy;
  int index = 0;  // the copy, or the rank

  static SeriesKey copy(int i) { return {Kind::kCopy, i}; }
  static SeriesKey synchronized() { return {Kind::kSynchronized, 0}; }
  static SeriesKey running() { return {Kind::kRunning, 0}; }
  static SeriesKey rank(int r) { return {Kind::kRank, r}; }
  static SeriesKey rank_running(int r) { return {Kind::kRankRunning, r}; }  // r >= 1

  // "copy 2", "synchronized", "running", "rank 1", "running, rank 1": the one label in plots,
  // tables and exports.
  std::string label() const;
  // Copies first, then synchronized, running, ranks: the order lines are listed in.
  bool operator<(const SeriesKey& o) const {
    return kind != o.kind ? kind < o.kind : index < o.index;
  }
  bool operator==(const SeriesKey& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const SeriesKey& o) const { return !(*this == o); }
};

// One module of a model's tree, in module order.
struct ModelModule {
  std::string name;       // qualified name, "" for the root
  std::string type;       // readable type name ("BatchNorm2d")
  std::string full_type;  // the full type name, as stored
  int depth = 0;
  int64_t own_parameter_count = 0;      // elements of its own parameters (-1: unknown)
  int64_t subtree_parameter_count = 0;  // elements of its and its descendants' parameters
  bool synchronized = false;            // a batch norm layer whose statistics are synchronized
  bool receives_callbacks = false;      // a replicated copy gets replication callbacks
};

// Whether `modules` hold a BatchNorm layer, one that a session synchronizes and records (a
// converted layer: receives_callbacks).
bool has_batch_norm(const std::vector<ModelModule>& modules);
// What a model without one is told, by train and verify alike: "the model 'mlp.pt' has no
// BatchNorm layer (expected BatchNorm1d, BatchNorm2d or BatchNorm3d): there is nothing to
// synchronize".
std::string nothing_to_synchronize(const std::string& model);

// One copy's (or one rank's) statistics at one sync point of one layer.
struct CopyRecord {
  int copy = 0;       // the copy, or the rank
  int64_t count = 0;  // values per channel
  std::vector<double> mean, var;
};

// What a BatchNorm layer's running statistics follow: running = (1 - momentum) x running +
// momentum x batch at every training call, or a cumulative mean (PyTorch's momentum=None).
struct BatchNormSettings {
  std::optional<double> momentum = 0.1;  // nullopt: a cumulative mean
  double eps = 1e-5;
};

// One sync point of one layer in one step.
struct LayerStats {
  std::string layer;
  int64_t sync_point = 0;  // 0 for the first call of the layer in the step, then 1, ...
  int64_t count = 0;       // values per channel over all copies
  std::vector<CopyRecord> copies;
  std::vector<double> mean, var;                  // synchronized
  std::vector<double> running_mean, running_var;  // after the update; empty without them
  // With several processes: each rank's statistics over its copies (copy = the rank).
  std::vector<CopyRecord> ranks;
  // With several processes, where recorded: the running statistics of ranks 1, 2, ... after
  // this sync point (copy = the rank; var unbiased, as running_var).
  std::vector<CopyRecord> rank_running;
  // max over copies and channels of |local mean - synchronized mean| / sqrt(var + eps): how far
  // off unsynchronized BatchNorm would have normalized.
  double divergence = 0;
  int64_t worst_channel = 0;                  // the channel where the divergence is largest
  std::optional<BatchNormSettings> settings;  // the layer's; empty where not known

  // The values of `statistic` for `key` (empty when the layer has none, e.g. no running stats).
  const std::vector<double>* values(const SeriesKey& key, Statistic statistic) const;
  // Values per channel behind `key`'s statistics (the whole count for synchronized, running).
  int64_t count_of(const SeriesKey& key) const;
  // The copies', the ranks' or the other ranks' running records, by `kind`.
  const std::vector<CopyRecord>& records_of(SeriesKey::Kind kind) const;
  std::vector<CopyRecord>& records_of(SeriesKey::Kind kind) {
    return const_cast<std::vector<CopyRecord>&>(std::as_const(*this).records_of(kind));
  }
  // The keys it has values for: its copies, synchronized, running (when kept), its ranks, the
  // other ranks' running statistics.
  std::vector<SeriesKey> keys() const;
};

// A BatchNorm module that ran in eval mode (on its running statistics) during a training step,
// and how many times: a frozen layer, told from an unused one.
struct EvalCalls {
  std::string module;
  int64_t calls = 0;
};

struct StepRecord {
  int64_t step = 0;  // 1 for the first step
  int64_t epoch = 0;
  double loss = 0, accuracy = 0;  // over the whole batch (every rank's share)
  double seconds = 0;             // wall time of the step
  std::vector<LayerStats> layers;
  std::vector<EvalCalls> eval_calls;  // modules that ran in eval mode in the step (rank 0's)
};

// What in `record` is NaN or infinite, as words for a person ("loss", "loss, layer 'bn1'
// statistics"); empty when every value is finite. A diverging training is recorded, not refused.
std::string nonfinite_part(const StepRecord& record);

// A module index on one copy.
struct WiringCell {
  bool present = true;  // the copy has a module at this index, of the master's type
  bool called = false;  // its replication callback ran
  int order = -1;       // its place in the order the callbacks ran (on its process)
};

// One module index across the copies.
struct WiringRow {
  int context_id = 0;
  std::string module, type;
  bool expects_callbacks = false;  // the module opts in to replication callbacks
  std::vector<WiringCell> copies;
  // A module missing on a copy, or a callback that should have run and did not.
  bool problem(size_t copy) const {
    const auto& cell = copies.at(copy);
    return !cell.present || (expects_callbacks && !cell.called);
  }
};

struct Wiring {
  std::vector<std::string> devices;  // one per column: "cpu", "cuda:1"
  int copies_per_rank = 0;           // columns per process (all of them for one process)
  std::vector<WiringRow> rows;
  int ranks() const {
    return copies_per_rank > 0 ? static_cast<int>(devices.size()) / copies_per_rank : 1;
  }
};

// The math on a layer's record, shared by the engine (which records it), the store (which keeps
// it) and the views.

// The divergence of `stats`: the largest |copy mean - synchronized mean| / sqrt(var + eps) over
// copies and channels; `worst_channel`, when given, gets the channel where it is largest (the
// first such; 0 when nothing diverges).
double divergence(const LayerStats& stats, double eps, int64_t* worst_channel = nullptr);

// One key's statistics at one sync point, summarized over channels: what draws every step of a
// run whose per-channel detail is kept for some steps only.
struct KeySummary {
  SeriesKey key;
  int64_t count = 0;         // values per channel behind the key's statistics (-1: unknown)
  double mean = 0, var = 0;  // the means over channels of the mean and of the variance
};
// Every key's summary of `layer`, in SeriesKey's order (keys without values left out).
std::vector<KeySummary> summarize(const LayerStats& layer);

// The mean over channels (NaN for none, and when a channel is NaN).
double mean_over_channels(const std::vector<double>& values);

// A copy's (or, with several processes, a rank's) standardized deviation from the whole batch
// per channel, u = (its mean - synchronized mean) / sqrt(synchronized var + eps): what
// copies-see-different-data tests every step, for the first sync point of the first
// kDeviationLayers layers of a step (a run keeps them every step: version 6's `deviations`).
struct SeriesDeviation {
  SeriesKey key;
  std::vector<double> u;
};
inline constexpr size_t kDeviationLayers = 3;
// `series`' u per channel at `layer` (as many channels as both have); eps as the divergence's.
std::vector<double> deviation(const LayerStats& layer, const CopyRecord& series, double eps = 1e-5);
// The ranks' deviations when `layer` has ranks, else the copies'.
std::vector<SeriesDeviation> deviations(const LayerStats& layer, double eps = 1e-5);
// The sync points of `record` whose deviations are kept: the first sync point of its first
// kDeviationLayers layers, in the step's order (indices into record.layers).
std::vector<size_t> deviation_layers(const StepRecord& record);

}  // namespace replicascope
