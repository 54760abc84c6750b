// SPDX-License-Identifier: MIT
// SynchronizedBatchNorm1d/2d/3d: batch norm whose training statistics are reduced over every
// copy of a replicated model, so that forward and backward equal BatchNorm on the whole batch on
// one device.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/options/batchnorm.h>
#include <torch/nn/pimpl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "replicascope/nn/stats_observer.h"

namespace replicascope::dist {
class ProcessGroup;
}
#include "replicascope/parallel/replication_callback.h"

namespace replicascope::nn {

// How eps enters the inverse standard deviation.
enum class EpsMode {
  kAdd,    // 1 / sqrt(var + eps), as PyTorch's BatchNorm does (the default)
  kClamp,  // 1 / sqrt(max(var, eps)), the Python original's default
};

struct SynchronizedBatchNormOptions {
  /* implicit */ SynchronizedBatchNormOptions(int64_t num_features) : num_features_(num_features) {}
  // The options of a torch::nn::BatchNorm*d, for convert_model.
  static SynchronizedBatchNormOptions from(const torch::nn::BatchNormOptions& options);

  TORCH_ARG(int64_t, num_features);
  TORCH_ARG(double, eps) = 1e-5;
  // Unset: a cumulative moving average (factor 1 / num_batches_tracked).
  TORCH_ARG(c10::optional<double>, momentum) = 0.1;
  TORCH_ARG(bool, affine) = true;
  TORCH_ARG(bool, track_running_stats) = true;
  TORCH_ARG(EpsMode, eps_mode) = EpsMode::kAdd;
  // Off: each copy normalizes with its own batch, as unsynchronized BatchNorm under data
  // parallelism does (running statistics from copy 0's batch), while the copies still meet at
  // each call so that an observer sees them all, beside what synchronization would have given.
  // For comparing against synchronized training.
  TORCH_ARG(bool, synchronize_copies) = true;
  // How long a copy waits at a sync point; unset: sync::default_timeout().
  TORCH_ARG(std::optional<std::chrono::milliseconds>, timeout) = std::nullopt;
};

namespace detail {
struct ReplicaSync;
}

// What 1d, 2d and 3d share. Holds the parameters and does all the work; the per-dimension
// classes only add Cloneable and the input-rank check.
class SynchronizedBatchNormBase : public ReplicationCallback {
 public:
  SynchronizedBatchNormOptions options;
  torch::Tensor weight, bias;                                    // [C]; undefined if !affine
  torch::Tensor running_mean, running_var, num_batches_tracked;  // undefined if not tracked

  // The layer's qualified name in its model, used in errors and statistics. convert_model and
  // replication set it.
  const std::string& layer_name() const { return layer_name_; }
  void set_layer_name(std::string name) { layer_name_ = std::move(name); }

  // Statistics observer; shared by every copy cloned after it is set.
  void set_stats_observer(std::shared_ptr<StatsObserver> observer) {
    observer_ = std::move(observer);
  }
  const std::shared_ptr<StatsObserver>& stats_observer() const { return observer_; }
  // Processes to synchronize with beyond this process's copies (null: this process only);
  // shared by every copy cloned after it is set.
  void set_process_group(std::shared_ptr<dist::ProcessGroup> group) { group_ = std::move(group); }
  const std::shared_ptr<dist::ProcessGroup>& process_group() const { return group_; }

  // The copy id this module got at replication, or -1 for a module that was not replicated.
  int copy_id() const;
  // Number of copies in its group (1 for a module that was not replicated).
  int num_copies() const;

  void data_parallel_replicate(CallbackContext& ctx, int copy_id) override;
  void data_parallel_step_end(std::exception_ptr error) override;

  void reset_running_stats();
  void reset_parameters();

  // The forward in a given mode, for callers that hold the layer by this base (the TorchScript
  // bridge, which also points weight, bias and the running buffers at the scripted module's own
  // tensors before each call).
  virtual torch::Tensor forward_in_mode(const torch::Tensor& input, bool training) = 0;

 protected:
  explicit SynchronizedBatchNormBase(SynchronizedBatchNormOptions options_)
      : options(std::move(options_)) {}

  // Registers parameters and buffers on `self` and forgets any replica state (clone() calls
  // reset(), so a clone starts unreplicated).
  void reset_state(torch::nn::Module& self);
  // The input a layer takes: for error messages and the rank check.
  struct InputSpec {
    const char* type;  // "SynchronizedBatchNorm2d"
    int64_t min_dims, max_dims;
    const char* shape;  // "4D (N, C, H, W)"
  };
  torch::Tensor forward_impl(const torch::Tensor& input, bool training, const InputSpec& spec);
  void print_options(std::ostream& stream, const char* type) const;
  // The name errors use: the layer name, else the type.
  std::string display_name(const char* type) const;

 private:
  std::shared_ptr<detail::ReplicaSync> sync_;  // null unless replicated
  std::shared_ptr<StatsObserver> observer_;
  std::shared_ptr<dist::ProcessGroup> group_;
  std::string layer_name_;
  int64_t unreplicated_calls_ = 0;  // sync_point of an unreplicated module's observer events
};

template <size_t D, class Derived>
class SynchronizedBatchNormImpl : public torch::nn::Cloneable<Derived>,
                                  public SynchronizedBatchNormBase {
 public:
  explicit SynchronizedBatchNormImpl(const SynchronizedBatchNormOptions& options_)
      : SynchronizedBatchNormBase(options_) {
    reset();
  }
  void reset() override { reset_state(*this); }
  void pretty_print(std::ostream& stream) const override {
    print_options(stream, Derived::kInput.type);
  }
  torch::Tensor forward(const torch::Tensor& input) {
    return forward_impl(input, this->is_training(), Derived::kInput);
  }
  torch::Tensor forward_in_mode(const torch::Tensor& input, bool training) override {
    return forward_impl(input, training, Derived::kInput);
  }

  // Makes this layer hold the given parameters themselves, not copies (convert_model uses it),
  // so an optimizer built over the original model keeps training the converted one. Buffers
  // share their storage with the given ones. Undefined tensors are skipped; shapes must match.
  void adopt_tensors(const torch::Tensor& weight_, const torch::Tensor& bias_,
                     const torch::Tensor& running_mean_, const torch::Tensor& running_var_,
                     const torch::Tensor& num_batches_tracked_) {
    adopt_parameter("weight", weight, weight_);
    adopt_parameter("bias", bias, bias_);
    adopt_buffer(running_mean, running_mean_);
    adopt_buffer(running_var, running_var_);
    adopt_buffer(num_batches_tracked, num_batches_tracked_);
  }

 private:
  static bool can_adopt(const torch::Tensor& member, const torch::Tensor& value) {
    if (!value.defined() || !member.defined()) return false;
    if (!value.sizes().equals(member.sizes())) {
      throw std::invalid_argument(std::string(Derived::kInput.type) +
                                  ": cannot adopt a tensor of another shape");
    }
    return true;
  }
  void adopt_parameter(const char* key, torch::Tensor& member, const torch::Tensor& value) {
    if (!can_adopt(member, value)) return;
    this->parameters_[key] = value;
    member = value;
  }
  // Module's buffer registry is private; the member handle shares its TensorImpl with the
  // registry's entry, so pointing that impl at the given storage reaches both.
  static void adopt_buffer(torch::Tensor& member, const torch::Tensor& value) {
    if (can_adopt(member, value)) member.set_data(value);
  }
};

class SynchronizedBatchNorm1dImpl
    : public SynchronizedBatchNormImpl<1, SynchronizedBatchNorm1dImpl> {
 public:
  using SynchronizedBatchNormImpl::SynchronizedBatchNormImpl;
  static constexpr InputSpec kInput{"SynchronizedBatchNorm1d", 2, 3, "2D (N, C) or 3D (N, C, L)"};
};
class SynchronizedBatchNorm2dImpl
    : public SynchronizedBatchNormImpl<2, SynchronizedBatchNorm2dImpl> {
 public:
  using SynchronizedBatchNormImpl::SynchronizedBatchNormImpl;
  static constexpr InputSpec kInput{"SynchronizedBatchNorm2d", 4, 4, "4D (N, C, H, W)"};
};
class SynchronizedBatchNorm3dImpl
    : public SynchronizedBatchNormImpl<3, SynchronizedBatchNorm3dImpl> {
 public:
  using SynchronizedBatchNormImpl::SynchronizedBatchNormImpl;
  static constexpr InputSpec kInput{"SynchronizedBatchNorm3d", 5, 5, "5D (N, C, D, H, W)"};
};

TORCH_MODULE(SynchronizedBatchNorm1d);
TORCH_MODULE(SynchronizedBatchNorm2d);
TORCH_MODULE(SynchronizedBatchNorm3d);

// Sets `observer` on every synchronized layer of `module`'s tree (null clears it).
void set_stats_observer(torch::nn::Module& module, std::shared_ptr<StatsObserver> observer);
// Sets `group` on every synchronized layer of `module`'s tree (null clears it).
void set_process_group(torch::nn::Module& module, std::shared_ptr<dist::ProcessGroup> group);

}  // namespace replicascope::nn
