// SPDX-License-Identifier: MIT
// A data-parallel training session, stepped batch by batch, recording what every copy saw at
// every synchronized layer. One thread owns a session; it is not thread-safe.
#pragma once

#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "replicascope/base/records.h"
#include "replicascope/data/dataset.h"
#include "replicascope/diagnose/diagnosis.h"
#include "replicascope/engine/session_kinds.h"
#include "replicascope/model/model.h"
#include "replicascope/nn/stats_observer.h"
#include "replicascope/store/run_rows.h"

namespace torch::optim {
class Optimizer;
}
namespace replicascope::dist {
class GradientReducer;
class ProcessGroup;
}  // namespace replicascope::dist

namespace replicascope::engine {

struct SessionOptions {
  std::vector<torch::Device> devices{torch::Device(torch::kCPU)};
  int64_t batch_size = 32;  // the whole batch, split over the copies
  OptimizerKind optimizer = OptimizerKind::kSgd;
  double learning_rate = kDefaultSgdLearningRate;
  double momentum = 0.9;  // SGD only
  double weight_decay = 0;
  LossKind loss = LossKind::kCrossEntropy;
  uint64_t seed = 0;
  // Synchronized BatchNorm (the default), or per-copy BatchNorm to compare against.
  bool synchronized = true;
  bool record_statistics = true;
  // Other processes training the same model (null: this process alone). Every rank draws the
  // same batch of batch_size and trains on its share (ranks in order, as even as can be), with
  // its share of `devices`; the synchronized layers synchronize over all ranks' copies and the
  // gradients are summed over the ranks, so training equals one process on the whole batch.
  std::shared_ptr<dist::ProcessGroup> group;
};

// Makes the model afresh: same weights for the same seed (torch::manual_seed is set first).
using ModelFactory = std::function<std::unique_ptr<Model>(bool synchronized)>;

class Session {
 public:
  Session(ModelFactory make_model, std::shared_ptr<const data::Dataset> dataset,
          SessionOptions options);
  ~Session();

  // One training step: the next batch, forward on the copies, loss, backward, optimizer step.
  // A step that fails at a sync point is told to the findings and kept as an event (below)
  // before its exception goes on.
  StepRecord step();
  // The events of failed steps since the last call (engine/step_failure.h), for the run.
  std::vector<store::RunEvent> take_events();
  // Steps until `stop` is set (from any thread: that is how a caller pauses) or `max_steps`
  // steps ran, calling on_step with each record; the step in progress when `stop` is set
  // finishes. Returns the steps run. A later run() carries on where this one stopped.
  int64_t run(const std::atomic<bool>& stop, int64_t max_steps,
              const std::function<void(const StepRecord&)>& on_step);
  // Back to step 0: fresh model, optimizer and batch order.
  void reset();
  // Also told of every sync event, after it is recorded, on the master copy's thread inside the
  // rendezvous with the other copies waiting: a debugger blocks there to pause every copy at a
  // sync point. Kept across reset(); null clears it. Set it between steps only.
  void set_sync_listener(std::shared_ptr<nn::StatsObserver> listener);

  int64_t steps_done() const { return steps_done_; }
  // The stop signal (SIGINT, SIGTERM, SIGHUP: base/stop_signals.h) to stop on after the last
  // step, 0 to go on. Alone: the one that arrived. With other ranks: every rank votes with the
  // step's loss, so all of them learn after the same step whether any rank got one (a rank
  // blocked in a collective could not stop alone); this rank's own signal, else another's.
  int agreed_stop_signal() const;
  Model& model() { return *model_; }
  // The copies the steps run on (their wiring is what the replication callbacks did).
  const ModelReplicas& replicas() const { return *replicas_; }
  const SessionOptions& options() const { return options_; }
  const data::Dataset& dataset() const { return *dataset_; }
  // The findings' rules, fed every step this session runs (reset() starts them afresh): what is
  // wrong so far, and what is new since the last look (diagnose/diagnosis.h).
  diagnose::Diagnosis& diagnosis() { return *diagnosis_; }

 private:
  struct Recorder;
  void build();
  StepRecord train_step();

  ModelFactory make_model_;
  std::shared_ptr<const data::Dataset> dataset_;
  SessionOptions options_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<ModelReplicas> replicas_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<dist::GradientReducer> reducer_;
  std::unique_ptr<data::BatchLoader> loader_;
  std::vector<store::RunEvent> events_;  // of failed steps, until taken
  std::shared_ptr<Recorder> recorder_;
  std::shared_ptr<nn::StatsObserver> listener_;
  std::unique_ptr<diagnose::Diagnosis> diagnosis_;
  int64_t steps_done_ = 0;
  int ranks_stop_signal_ = 0;  // what the ranks agreed on at the last step
};

// BatchNorm's default eps, which the recorded divergence uses (events do not carry the layer's).
constexpr double kDivergenceEps = 1e-5;
// An observer's event as plain vectors, with its divergence.
LayerStats to_layer_stats(const nn::SyncEvent& event);

}  // namespace replicascope::engine
