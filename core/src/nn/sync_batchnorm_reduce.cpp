// The master's reduction at a sync point.
#include <torch/torch.h>

#include <sstream>

#include "sync_batchnorm_detail.h"

namespace replicascope::nn::detail {
namespace {

torch::Tensor cpu(const torch::Tensor& t) {
  return t.to(torch::kCPU);
}

std::string per_copy_counts(const std::vector<SyncMessage>& messages) {
  std::ostringstream out;
  for (size_t i = 0; i < messages.size(); ++i) {
    out << (i ? ", " : "") << messages[i].moments.count;
  }
  return out.str();
}

// Running statistics as torch::nn::BatchNorm updates them: the unbiased variance, and a
// cumulative average when momentum is unset. Computed in float64, stored in the buffer's dtype.
void update_running_stats(const ReduceConfig& config, const kernels::Moments& merged,
                          const torch::Tensor& var) {
  torch::NoGradGuard no_grad;
  if (config.num_batches_tracked.defined()) config.num_batches_tracked.add_(1);
  if (merged.count == 0) return;  // as torch: an empty batch leaves the running stats alone
  const double factor = config.momentum
                            ? *config.momentum
                            : 1.0 / static_cast<double>(config.num_batches_tracked.item<int64_t>());
  const auto device = config.running_mean.device();
  const double n = static_cast<double>(merged.count);
  const auto unbiased = var.to(device) * (n / (n - 1));
  auto blend = [&](const torch::Tensor& buffer, const torch::Tensor& batch) {
    buffer.copy_(buffer.to(torch::kDouble) * (1 - factor) + batch * factor);
  };
  blend(config.running_mean, merged.mean.to(device));
  blend(config.running_var, unbiased);
}

void notify_observer(const ReduceConfig& config, const std::vector<SyncMessage>& messages,
                     const kernels::Moments& merged, const torch::Tensor& var, int64_t sync_point) {
  SyncEvent event;
  event.layer = config.layer;
  event.sync_point = sync_point;
  event.synchronized = config.synchronized;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i].moments;
    const double n = static_cast<double>(std::max<int64_t>(m.count, 1));
    event.copies.push_back(
        {static_cast<int>(i), messages[i].device, m.count, cpu(m.mean), cpu(m.m2) / n});
  }
  event.count = merged.count;
  event.mean = cpu(merged.mean);
  event.var = cpu(var);
  if (config.update_running) {
    event.running_mean = cpu(config.running_mean).to(torch::kDouble);
    event.running_var = cpu(config.running_var).to(torch::kDouble);
  }
  config.observer->on_sync(event);
}

}  // namespace

std::vector<SyncResult> reduce(std::vector<SyncMessage>& messages, const ReduceConfig& config,
                               int64_t sync_point) {
  std::vector<kernels::Moments> parts;
  for (const auto& message : messages) parts.push_back(message.moments);
  const auto merged = kernels::merge_moments(parts, messages.front().device);
  if (merged.count == 1) {
    throw std::invalid_argument(
        "layer '" + config.layer +
        "': expected more than 1 value per channel when training, got 1 in all (values per "
        "channel on each copy: " +
        per_copy_counts(messages) + ")");
  }
  const auto var = merged.count > 0 ? merged.m2 / static_cast<double>(merged.count)
                                    : torch::zeros_like(merged.m2);
  const auto invstd = config.eps_mode == EpsMode::kAdd ? (var + config.eps).rsqrt()
                                                       : var.clamp_min(config.eps).rsqrt();
  if (config.update_running) update_running_stats(config, merged, var);
  if (config.observer) notify_observer(config, messages, merged, var, sync_point);

  std::vector<SyncResult> results(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& device = messages[i].device;
    results[i].mean = merged.mean.to(device);
    results[i].invstd = invstd.to(device);
    results[i].count = merged.count;
  }
  attach_merge_node(messages, results);
  return results;
}

}  // namespace replicascope::nn::detail
