// SPDX-License-Identifier: MIT
// The master's reduction at a sync point.
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <sstream>
#include <tuple>

#include "replicascope/nn/fault_injection.h"
#include "sync_batchnorm_detail.h"

namespace replicascope::nn {
namespace testing {
namespace {
std::atomic<bool> drop_last_copy{false};
}  // namespace

void drop_last_copy_statistics(bool on) {
  drop_last_copy.store(on);
}

bool drops_last_copy_statistics() {
  return drop_last_copy.load(std::memory_order_relaxed);
}

}  // namespace testing

namespace detail {
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

// buffer = (1 - factor) * buffer + factor * batch, computed in float64 and stored in the
// buffer's dtype, as torch::nn::BatchNorm does.
void blend(const torch::Tensor& buffer, const torch::Tensor& batch, double factor) {
  if (buffer.device().is_cpu() && batch.device().is_cpu() && buffer.is_contiguous() &&
      (buffer.scalar_type() == torch::kFloat || buffer.scalar_type() == torch::kDouble)) {
    const auto values = batch.to(torch::kDouble).contiguous();
    const double* v = values.data_ptr<double>();
    AT_DISPATCH_FLOATING_TYPES(buffer.scalar_type(), "blend", [&] {
      scalar_t* b = buffer.data_ptr<scalar_t>();
      for (int64_t c = 0; c < buffer.numel(); ++c) {
        b[c] = static_cast<scalar_t>((1 - factor) * static_cast<double>(b[c]) + factor * v[c]);
      }
    });
    return;
  }
  buffer.copy_(buffer.to(torch::kDouble) * (1 - factor) + batch.to(buffer.device()) * factor);
}

// Running statistics as torch::nn::BatchNorm updates them: the unbiased variance, and a
// cumulative average when momentum is unset.
void update_running_stats(const ReduceConfig& config, const kernels::Moments& merged,
                          const torch::Tensor& var) {
  torch::NoGradGuard no_grad;
  int64_t batches = 0;
  if (config.num_batches_tracked.defined()) {
    config.num_batches_tracked.add_(1);
    batches = config.num_batches_tracked.item<int64_t>();
  }
  if (merged.count == 0) return;  // as torch: an empty batch leaves the running stats alone
  const double factor = config.momentum ? *config.momentum : 1.0 / static_cast<double>(batches);
  const double n = static_cast<double>(merged.count);
  blend(config.running_mean, merged.mean, factor);
  blend(config.running_var, var * (n / (n - 1)), factor);
}

void notify_observer(const ReduceConfig& config, const std::vector<SyncMessage>& messages,
                     const kernels::Moments& merged, const torch::Tensor& var, int64_t sync_point,
                     const std::vector<kernels::Moments>& ranks = {}) {
  SyncEvent event;
  event.layer = config.layer;
  event.sync_point = sync_point;
  event.synchronized = config.synchronized;
  event.momentum = config.momentum;
  event.eps = config.eps;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i].moments;
    const double n = static_cast<double>(std::max<int64_t>(m.count, 1));
    event.copies.push_back(
        {static_cast<int>(i), messages[i].device, m.count, cpu(m.mean), cpu(m.m2) / n});
  }
  for (size_t r = 0; r < ranks.size(); ++r) {
    const double n = static_cast<double>(std::max<int64_t>(ranks[r].count, 1));
    event.ranks.push_back({static_cast<int>(r), torch::Device(torch::kCPU), ranks[r].count,
                           cpu(ranks[r].mean), cpu(ranks[r].m2) / n});
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

// The biased variance and 1 / sqrt(var + eps) (or 1 / sqrt(max(var, eps))).
std::pair<torch::Tensor, torch::Tensor> variance_and_invstd(const kernels::Moments& merged,
                                                            const ReduceConfig& config) {
  const double n = static_cast<double>(std::max<int64_t>(merged.count, 1));
  if (merged.m2.device().is_cpu()) {
    const auto m2 = merged.m2.contiguous();
    auto var = torch::empty_like(m2), invstd = torch::empty_like(m2);
    const double* q = m2.data_ptr<double>();
    double* v = var.data_ptr<double>();
    double* s = invstd.data_ptr<double>();
    const int64_t channels = m2.numel();
    const double eps = config.eps;
    // Branches out of the loops.
    if (merged.count > 0) {
      for (int64_t c = 0; c < channels; ++c) v[c] = q[c] / n;
    } else {
      std::fill(v, v + channels, 0.0);
    }
    if (config.eps_mode == EpsMode::kAdd) {
      for (int64_t c = 0; c < channels; ++c) s[c] = 1.0 / std::sqrt(v[c] + eps);
    } else {
      for (int64_t c = 0; c < channels; ++c) s[c] = 1.0 / std::sqrt(std::max(v[c], eps));
    }
    return {var, invstd};
  }
  auto var = merged.m2 / n;
  auto invstd = config.eps_mode == EpsMode::kAdd ? (var + config.eps).rsqrt()
                                                 : var.clamp_min(config.eps).rsqrt();
  return {var, invstd};
}

// This process's moments merged with every other process's: each sends [count, mean, m2], and
// every rank merges them in rank order with the same Chan formula, so all get the same result.
kernels::Moments merge_over_processes(const kernels::Moments& local, const ReduceConfig& config,
                                      const std::string& where, std::string& counts,
                                      std::vector<kernels::Moments>& parts) {
  const int64_t channels = local.mean.size(0);
  auto packed = torch::empty({1 + 2 * channels}, torch::kDouble);
  packed[0] = static_cast<double>(local.count);
  packed.slice(0, 1, 1 + channels).copy_(local.mean.to(torch::kCPU));
  packed.slice(0, 1 + channels).copy_(local.m2.to(torch::kCPU));
  const auto all = config.group->all_gather(packed, where + ", forward");
  parts.clear();
  for (size_t r = 0; r < all.size(); ++r) {
    kernels::Moments m;
    m.count = static_cast<int64_t>(all[r][0].item<double>());
    m.mean = all[r].slice(0, 1, 1 + channels);
    m.m2 = all[r].slice(0, 1 + channels);
    counts += (r ? ", " : "") + std::to_string(m.count);
    parts.push_back(m);
  }
  return kernels::merge_moments(parts, local.mean.device());
}

}  // namespace

std::vector<SyncResult> reduce(std::vector<SyncMessage>& messages, const ReduceConfig& config,
                               int64_t sync_point) {
  std::vector<kernels::Moments> parts;
  for (const auto& message : messages) parts.push_back(message.moments);
  if (parts.size() > 1 && testing::drops_last_copy_statistics()) parts.pop_back();
  auto merged = kernels::merge_moments(parts, messages.front().device);
  // Names the collectives in errors; only built when there are any (a hot path otherwise).
  const std::string where =
      config.group ? "layer '" + config.layer + "', sync point " + std::to_string(sync_point)
                   : std::string();
  std::string rank_counts;
  std::vector<kernels::Moments> rank_parts;
  if (config.group) merged = merge_over_processes(merged, config, where, rank_counts, rank_parts);
  if (merged.count == 1) {
    throw std::invalid_argument(
        "layer '" + config.layer +
        "': expected more than 1 value per channel when training, got 1 in all (values per "
        "channel on each copy: " +
        per_copy_counts(messages) +
        (config.group ? "; on each process: " + rank_counts : std::string()) + ")");
  }
  torch::Tensor var, invstd;
  std::tie(var, invstd) = variance_and_invstd(merged, config);
  if (config.update_running) update_running_stats(config, merged, var);
  if (config.observer) notify_observer(config, messages, merged, var, sync_point, rank_parts);

  std::vector<SyncResult> results(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& device = messages[i].device;
    const bool same = device == merged.mean.device();  // most often: skip the copies
    results[i].mean = same ? merged.mean : merged.mean.to(device);
    results[i].invstd = same ? invstd : invstd.to(device);
    results[i].count = merged.count;
    results[i].backward_group = config.group;
  }
  return results;
}

std::vector<SyncResult> reduce_per_copy(std::vector<SyncMessage>& messages,
                                        const ReduceConfig& config, int64_t sync_point) {
  std::vector<SyncResult> results;
  for (size_t i = 0; i < messages.size(); ++i) {
    ReduceConfig own = config;
    own.observer = nullptr;
    own.group = nullptr;  // per-copy statistics: nothing to share
    own.update_running = config.update_running && i == 0;
    std::vector<SyncMessage> one{messages[i]};
    results.push_back(reduce(one, own, sync_point).front());
    results.back().across_copies = false;
  }
  if (config.observer) {
    std::vector<kernels::Moments> parts;
    for (const auto& message : messages) parts.push_back(message.moments);
    const auto merged = kernels::merge_moments(parts, messages.front().device);
    notify_observer(config, messages, merged, variance_and_invstd(merged, config).first,
                    sync_point);
  }
  return results;
}

}  // namespace detail
}  // namespace replicascope::nn
