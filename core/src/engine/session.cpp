// SPDX-License-Identifier: MIT
#include "replicascope/engine/session.h"

#include <torch/torch.h>

#include "replicascope/base/stop_signals.h"
#include "replicascope/dist/gradient_reducer.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/engine/step_failure.h"

#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <utility>

namespace replicascope::engine {
namespace {

std::vector<double> values(const torch::Tensor& t) {
  if (!t.defined()) return {};
  const auto d = t.to(torch::kCPU, torch::kDouble).contiguous();
  return {d.data_ptr<double>(), d.data_ptr<double>() + d.numel()};
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(Model& model,
                                                        const SessionOptions& options) {
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : model.named_parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  if (options.optimizer == OptimizerKind::kAdam) {
    return std::make_unique<torch::optim::Adam>(
        params,
        torch::optim::AdamOptions(options.learning_rate).weight_decay(options.weight_decay));
  }
  return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(options.learning_rate)
                                                         .momentum(options.momentum)
                                                         .weight_decay(options.weight_decay));
}

}  // namespace

// Collects the sync events of one step. on_sync runs on the master copy's thread inside the
// rendezvous, with the other copies waiting, so it only keeps the event; the conversion to
// LayerStats happens after the step.
struct Session::Recorder : nn::StatsObserver {
  std::mutex mutex;
  std::vector<nn::SyncEvent> events;
  bool keep = true;
  std::shared_ptr<nn::StatsObserver> listener;  // set between steps only
  void on_sync(const nn::SyncEvent& event) override {
    if (keep) {
      std::lock_guard<std::mutex> lock(mutex);
      events.push_back(event);
    }
    if (listener) listener->on_sync(event);
  }
  // The step's first sync failure (every copy waiting at the sync point hears of it).
  std::optional<store::RunEvent> failure;
  void on_sync_failure(const sync::SyncError& error) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (!failure) failure = sync_point_event(error, 0);
  }
  std::optional<store::RunEvent> take_failure() {
    std::lock_guard<std::mutex> lock(mutex);
    return std::exchange(failure, std::nullopt);
  }
  std::vector<LayerStats> take() {
    std::vector<nn::SyncEvent> taken;
    {
      std::lock_guard<std::mutex> lock(mutex);
      taken.swap(events);
    }
    std::vector<LayerStats> out;
    out.reserve(taken.size());
    for (const auto& event : taken) out.push_back(to_layer_stats(event));
    return out;
  }
};

LayerStats to_layer_stats(const nn::SyncEvent& event) {
  LayerStats out;
  out.layer = event.layer;
  out.sync_point = event.sync_point;
  out.count = event.count;
  for (const auto& copy : event.copies) {
    out.copies.push_back({copy.copy_id, copy.count, values(copy.mean), values(copy.var)});
  }
  for (const auto& rank : event.ranks) {
    out.ranks.push_back({rank.copy_id, rank.count, values(rank.mean), values(rank.var)});
  }
  out.mean = values(event.mean);
  out.var = values(event.var);
  out.running_mean = values(event.running_mean);
  out.running_var = values(event.running_var);
  out.divergence = divergence(out, kDivergenceEps, &out.worst_channel);
  out.settings = BatchNormSettings{
      event.momentum ? std::optional<double>(*event.momentum) : std::nullopt, event.eps};
  return out;
}

Session::Session(ModelFactory make_model, std::shared_ptr<const data::Dataset> dataset,
                 SessionOptions options)
    : make_model_(std::move(make_model)),
      dataset_(std::move(dataset)),
      options_(std::move(options)) {
  if (!make_model_ || !dataset_) throw std::invalid_argument("Session: expected a model and data");
  if (options_.devices.empty())
    throw std::invalid_argument("Session: expected at least one device");
  require_sample_per_copy("Session", options_.batch_size, options_.devices.size(),
                          options_.group ? options_.group->size() : 1);
  build();
}

Session::~Session() = default;

void Session::build() {
  torch::manual_seed(options_.seed);
  replicas_.reset();
  model_ = make_model_(options_.synchronized);
  model_->train(true);
  recorder_ = std::make_shared<Recorder>();
  recorder_->keep = options_.record_statistics;
  recorder_->listener = listener_;
  model_->set_stats_observer(options_.record_statistics || listener_ ? recorder_ : nullptr);
  model_->set_process_group(options_.group);
  replicas_ = model_->replicate(options_.devices);
  optimizer_ = make_optimizer(*model_, options_);
  reducer_.reset();
  if (options_.group) {
    std::vector<torch::Tensor> params;
    for (const auto& group : optimizer_->param_groups()) {
      for (const auto& p : group.params()) params.push_back(p);
    }
    reducer_ = std::make_unique<dist::GradientReducer>(params, options_.group);
  }
  loader_ = std::make_unique<data::BatchLoader>(*dataset_, options_.batch_size, options_.seed);
  diagnose::RunFacts facts;
  facts.synchronized = options_.synchronized;
  facts.copies = static_cast<int>(options_.devices.size());
  facts.processes = options_.group ? options_.group->size() : 1;
  facts.batch = options_.batch_size;
  facts.source = "live session";
  facts.records_rank_running = facts.processes == 1;  // rank 0 sees its own buffers only
  diagnosis_ = std::make_unique<diagnose::Diagnosis>(facts);
  steps_done_ = 0;
  ranks_stop_signal_ = 0;
}

void Session::reset() {
  build();
}

void Session::set_sync_listener(std::shared_ptr<nn::StatsObserver> listener) {
  listener_ = std::move(listener);
  recorder_->listener = listener_;
  // The observer is only installed when someone listens, so that nothing is computed otherwise.
  // (Replicas refreshed after this report to the model's observer.)
  model_->set_stats_observer(options_.record_statistics || listener_ ? recorder_ : nullptr);
}

int64_t Session::run(const std::atomic<bool>& stop, int64_t max_steps,
                     const std::function<void(const StepRecord&)>& on_step) {
  int64_t done = 0;
  while (done < max_steps && !stop.load()) {
    const auto record = step();
    ++done;
    if (on_step) on_step(record);
  }
  return done;
}

int Session::agreed_stop_signal() const {
  return options_.group ? ranks_stop_signal_ : stop_signal();
}

StepRecord Session::step() {
  recorder_->take_failure();  // none is left from an earlier step
  try {
    return train_step();
  } catch (...) {
    // A copy that failed at a sync point told the recorder (its error's type does not survive
    // a TorchScript model's interpreter); the step's own error goes on unchanged.
    if (auto event = recorder_->take_failure()) {
      event->step = steps_done_ + 1;
      diagnosis_->observe_event(*event);
      events_.push_back(std::move(*event));
    }
    throw;
  }
}

std::vector<store::RunEvent> Session::take_events() {
  return std::exchange(events_, {});
}

StepRecord Session::train_step() {
  const auto start = std::chrono::steady_clock::now();
  auto batch = loader_->next();
  // This rank's share of the batch every rank drew, split over every rank's copies, as verify
  // splits it (the whole batch when alone).
  const int64_t whole = batch.images.size(0);
  const size_t copies = options_.devices.size();
  const auto share =
      rank_share(split_sizes(whole, copies * (options_.group ? options_.group->size() : 1)),
                 options_.group ? options_.group->rank() : 0, copies);
  batch.images = batch.images.narrow(0, share.offset, share.size);
  batch.labels = batch.labels.narrow(0, share.offset, share.size);
  optimizer_->zero_grad();
  const auto output = data_parallel_forward(*replicas_, batch.images, share.copies);
  const auto labels = batch.labels.to(output.device());
  torch::Tensor loss;
  if (options_.loss == LossKind::kMse) {
    loss = torch::mse_loss(output, torch::one_hot(labels, output.size(1)).to(output.dtype()));
  } else {
    loss = torch::cross_entropy_loss(output, labels);
  }
  // The whole batch's mean loss is the ranks' means weighted by their shares; backward from
  // this rank's term gives its part of every gradient, and the reducer adds the parts.
  const double weight = static_cast<double>(share.size) / static_cast<double>(whole);
  try {
    (options_.group ? loss * weight : loss).backward();
  } catch (...) {
    if (reducer_) reducer_->discard();
    throw;
  }
  if (reducer_) reducer_->finish();
  optimizer_->step();
  StepRecord record;
  record.step = ++steps_done_;
  record.epoch = loader_->epoch();
  const double correct = output.argmax(1).eq(labels).to(torch::kDouble).sum().item<double>();
  // The ranks' votes to stop ride on the sum made anyway, at no cost of their own.
  std::vector<double> sums{loss.item<double>() * weight, correct};
  const auto votes = stop_votes();
  sums.insert(sums.end(), votes.begin(), votes.end());
  auto totals = torch::tensor(sums, torch::kDouble);
  if (options_.group) options_.group->all_reduce_sum(totals, "the step's loss and accuracy");
  record.loss = totals[0].item<double>();
  record.accuracy = totals[1].item<double>() / static_cast<double>(whole);
  ranks_stop_signal_ = voted_stop_signal(totals.data_ptr<double>() + 2);
  record.layers = recorder_->take();
  record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  diagnosis_->observe(diagnose::evidence_of(record));
  return record;
}

}  // namespace replicascope::engine
