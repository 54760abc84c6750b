// SPDX-License-Identifier: MIT
#include "replicascope/nn/sync_batchnorm.h"

#include <torch/torch.h>

#include <sstream>

#include "replicascope/parallel/callback_context.h"
#include "replicascope/parallel/module_walk.h"
#include "sync_batchnorm_detail.h"

namespace replicascope::nn {
namespace {

// What the backward needs of the step's synchronized result.
void keep_for_backward(detail::BackwardState& state, const detail::SyncResult& result,
                       const torch::Tensor& weight, std::shared_ptr<detail::ReplicaSync> sync,
                       std::string layer) {
  state.mean = result.mean;
  state.invstd = result.invstd;
  state.weight = weight.defined() ? weight.detach() : torch::Tensor();
  state.total_count = result.count;
  state.sync = std::move(sync);
  state.across_copies = result.across_copies;
  state.group = result.backward_group;
  state.layer = std::move(layer);
}

constexpr const char* kMasterKey = "replicascope.SynchronizedBatchNorm.master";
constexpr const char* kBackwardMasterKey = "replicascope.SynchronizedBatchNorm.backward_master";

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

// Refuses an input of the wrong rank, channel count or type; `name` is the layer's display name.
// `shape` says the rank the layer takes ("4D (N, C, H, W)"): min_dims to max_dims.
void check_input(const torch::Tensor& input, int64_t channels, const std::string& name,
                 int64_t min_dims, int64_t max_dims, const char* shape) {
  if (!input.defined() || input.dim() < min_dims || input.dim() > max_dims ||
      input.size(1) != channels) {
    throw std::invalid_argument(
        name + ": expected a " + shape + " input with C = " + std::to_string(channels) + ", got " +
        (input.defined() ? "an input of shape " + shape_of(input) : "an undefined tensor"));
  }
  if (!input.is_floating_point()) {
    throw std::invalid_argument(name + ": expected a floating-point input, got " +
                                std::string(c10::toString(input.scalar_type())));
  }
}

// Eval mode with running statistics: plain batch norm, `eps` as the options' mode says.
torch::Tensor eval_forward(const torch::Tensor& input, const torch::Tensor& weight,
                           const torch::Tensor& bias, const torch::Tensor& running_mean,
                           const torch::Tensor& running_var,
                           const SynchronizedBatchNormOptions& options) {
  const bool clamp = options.eps_mode() == EpsMode::kClamp;
  return torch::batch_norm(input, weight, bias, running_mean,
                           clamp ? running_var.clamp_min(options.eps()) : running_var,
                           /*training=*/false, /*momentum=*/0.0, clamp ? 0.0 : options.eps(),
                           /*cudnn_enabled=*/true);
}

}  // namespace

SynchronizedBatchNormOptions SynchronizedBatchNormOptions::from(
    const torch::nn::BatchNormOptions& o) {
  return SynchronizedBatchNormOptions(o.num_features())
      .eps(o.eps())
      .momentum(o.momentum())
      .affine(o.affine())
      .track_running_stats(o.track_running_stats());
}

int SynchronizedBatchNormBase::copy_id() const {
  return sync_ ? sync_->copy_id : -1;
}

int SynchronizedBatchNormBase::num_copies() const {
  return sync_ ? sync_->master->num_copies() : 1;
}

std::string SynchronizedBatchNormBase::display_name(const char* type) const {
  return std::string(type) + (layer_name_.empty() ? "" : " '" + layer_name_ + "'");
}

void SynchronizedBatchNormBase::reset_state(torch::nn::Module& self) {
  const int64_t c = options.num_features();
  if (options.affine()) {
    weight = self.register_parameter("weight", torch::ones({c}));
    bias = self.register_parameter("bias", torch::zeros({c}));
  } else {
    weight = self.register_parameter("weight", torch::Tensor(), /*requires_grad=*/false);
    bias = self.register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  }
  if (options.track_running_stats()) {
    running_mean = self.register_buffer("running_mean", torch::zeros({c}));
    running_var = self.register_buffer("running_var", torch::ones({c}));
    num_batches_tracked =
        self.register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
  } else {
    running_mean = self.register_buffer("running_mean", torch::Tensor());
    running_var = self.register_buffer("running_var", torch::Tensor());
    num_batches_tracked = self.register_buffer("num_batches_tracked", torch::Tensor());
  }
  sync_.reset();
}

void SynchronizedBatchNormBase::reset_running_stats() {
  if (!options.track_running_stats()) return;
  torch::NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1);
  num_batches_tracked.zero_();
}

void SynchronizedBatchNormBase::reset_parameters() {
  reset_running_stats();
  if (!options.affine()) return;
  torch::NoGradGuard no_grad;
  weight.fill_(1);
  bias.zero_();
}

void SynchronizedBatchNormBase::print_options(std::ostream& stream, const char* type) const {
  stream << std::boolalpha << type << "(" << options.num_features() << ", eps=" << options.eps()
         << ", momentum=";
  if (options.momentum()) {
    stream << *options.momentum();
  } else {
    stream << "None";
  }
  stream << ", affine=" << options.affine()
         << ", track_running_stats=" << options.track_running_stats()
         << (options.eps_mode() == EpsMode::kClamp ? ", eps_mode=clamp" : "") << ")";
}

void SynchronizedBatchNormBase::data_parallel_replicate(CallbackContext& ctx, int id) {
  if (!ctx.module_name().empty()) layer_name_ = ctx.module_name();
  auto replica = std::make_shared<detail::ReplicaSync>();
  replica->copy_id = id;
  if (id != 0) {
    replica->master = ctx.get<detail::Master>(kMasterKey);
    replica->pipe = replica->master->register_slave(id);
    replica->backward_master = ctx.get<detail::BackwardMaster>(kBackwardMasterKey);
    replica->backward_pipe = replica->backward_master->register_slave(id);
    sync_ = std::move(replica);
    return;
  }
  // The running statistics live on the module that was replicated: the copies' buffers are
  // clones and are thrown away with the copies.
  const SynchronizedBatchNormBase* owner = this;
  if (auto origin = std::dynamic_pointer_cast<SynchronizedBatchNormBase>(ctx.origin())) {
    owner = origin.get();
  }
  auto config = std::make_shared<detail::ReduceConfig>();
  config->layer = layer_name_;
  config->eps = options.eps();
  config->eps_mode = options.eps_mode();
  config->momentum = options.momentum();
  config->update_running = options.track_running_stats();
  config->running_mean = owner->running_mean;
  config->running_var = owner->running_var;
  config->num_batches_tracked = owner->num_batches_tracked;
  config->observer = observer_;
  config->synchronized = options.synchronize_copies();
  config->group = group_;
  replica->master = std::make_shared<detail::Master>(
      layer_name_,
      [config](std::vector<detail::SyncMessage>& messages, int64_t sync_point) {
        return config->synchronized ? detail::reduce(messages, *config, sync_point)
                                    : detail::reduce_per_copy(messages, *config, sync_point);
      },
      options.timeout().value_or(sync::default_timeout()));
  replica->backward_master = std::make_shared<detail::BackwardMaster>(
      layer_name_ + " (backward)",
      [config](std::vector<detail::BackwardMessage>& messages, int64_t) {
        return detail::reduce_backward(messages, config->group, config->layer);
      },
      options.timeout().value_or(sync::default_timeout()));
  ctx.put(kMasterKey, replica->master);
  ctx.put(kBackwardMasterKey, replica->backward_master);
  sync_ = std::move(replica);
}

void SynchronizedBatchNormBase::data_parallel_step_end(std::exception_ptr error) {
  if (!sync_) return;
  if (sync_->copy_id == 0) {
    sync_->master->leave(0, std::move(error));
  } else {
    sync_->pipe.leave(std::move(error));
  }
}

torch::Tensor SynchronizedBatchNormBase::forward_impl(const torch::Tensor& input, bool training,
                                                      const InputSpec& spec) {
  const char* type = spec.type;
  check_input(input, options.num_features(), display_name(type), spec.min_dims, spec.max_dims,
              spec.shape);

  if (!training && options.track_running_stats()) {
    // Eval: the running statistics, no synchronization.
    return eval_forward(input, weight, bias, running_mean, running_var, options);
  }

  // The backward's state, only when there will be a backward.
  const bool needs_grad = torch::GradMode::is_enabled() &&
                          (input.requires_grad() || (weight.defined() && weight.requires_grad()) ||
                           (bias.defined() && bias.requires_grad()));
  std::shared_ptr<detail::BackwardState> state;
  std::vector<detail::SyncMessage> messages(1);
  messages[0].moments = kernels::local_moments(input);
  messages[0].device = input.device();
  if (needs_grad) {
    state = std::make_shared<detail::BackwardState>();
    state->input = torch::autograd::SavedVariable(input, /*is_output=*/false);
  }

  // Batch statistics (training, or any mode without running statistics) are synchronized
  // whenever the layer is replicated, so the result is BatchNorm's on the whole batch. PyTorch's
  // SyncBatchNorm uses each process's own batch in eval mode without running statistics.
  detail::SyncResult result;
  if (sync_) {
    try {
      result = sync_->copy_id == 0 ? sync_->master->run_master(std::move(messages[0]))
                                   : sync_->pipe.run_slave(std::move(messages[0]));
    } catch (const sync::SyncError& e) {
      if (observer_) observer_->on_sync_failure(e);
      throw;
    }
  } else {
    // Unreplicated: this module's batch alone.
    detail::ReduceConfig config;
    config.layer = layer_name_.empty() ? type : layer_name_;
    config.eps = options.eps();
    config.eps_mode = options.eps_mode();
    config.momentum = options.momentum();
    config.update_running = training && options.track_running_stats();
    config.running_mean = running_mean;
    config.running_var = running_var;
    config.num_batches_tracked = num_batches_tracked;
    config.observer = observer_;
    config.group = group_;  // alone in this process, but not in the group
    result = detail::reduce(messages, config, unreplicated_calls_++).front();
  }

  auto output = kernels::normalize(input, result.mean, result.invstd, weight, bias);
  if (state) {
    keep_for_backward(*state, result, weight, sync_, layer_name_.empty() ? type : layer_name_);
    detail::attach_backward_node(output, input, weight, bias, state);
  }
  return output;
}

void set_stats_observer(torch::nn::Module& module, std::shared_ptr<StatsObserver> observer) {
  for_each_module(module, [&](const std::string&, torch::nn::Module& child) {
    if (auto* bn = dynamic_cast<SynchronizedBatchNormBase*>(&child))
      bn->set_stats_observer(observer);
  });
}

void set_process_group(torch::nn::Module& module, std::shared_ptr<dist::ProcessGroup> group) {
  for_each_module(module, [&](const std::string&, torch::nn::Module& child) {
    if (auto* bn = dynamic_cast<SynchronizedBatchNormBase*>(&child)) bn->set_process_group(group);
  });
}

}  // namespace replicascope::nn
