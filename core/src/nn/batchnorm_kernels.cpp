// SPDX-License-Identifier: MIT
#include "replicascope/nn/batchnorm_kernels.h"

#include "cpu_loops.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <vector>

namespace replicascope::nn::kernels {
namespace {

std::atomic<bool> g_force_generic{false};

bool use_fast_path(const torch::Tensor& x) {
  return !g_force_generic.load(std::memory_order_relaxed) && x.device().is_cpu() &&
         (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble);
}

// The loops for this CPU: AVX2 where the build targets x86-64 and the CPU has it.
const CpuLoops& loops() {
  static const CpuLoops& chosen = []() -> const CpuLoops& {
#if defined(REPLICASCOPE_HAVE_AVX2_LOOPS)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return cpu_loops_avx2();
#endif
    return cpu_loops_default();
  }();
  return chosen;
}

template <class T>
const Loops<T>& loops_for();
template <>
const Loops<float>& loops_for<float>() {
  return loops().f32;
}
template <>
const Loops<double>& loops_for<double>() {
  return loops().f64;
}

PlaneShape plane_shape(const torch::Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1);
  return {n, c, n * c == 0 ? 0 : x.numel() / (n * c)};
}

// Splits channels, or (sample, channel) planes, across ATen's intra-op threads, in chunks of
// at least ATen's grain (32768 values) so that small tensors, the usual case per copy, run
// inline on the copy's own thread instead of starting a thread team per call.
constexpr int64_t kGrainValues = 32768;

template <class F>
void over_channels(const PlaneShape& shape, F body) {
  // Planes of one value ([N, C] input): the moments loop goes row by row over all channels at
  // once, and the other loops are too cheap per channel to be worth splitting.
  if (shape.s == 1) return body(int64_t{0}, shape.c);
  const int64_t per_channel = std::max<int64_t>(1, shape.n * shape.s);
  at::parallel_for(0, shape.c, std::max<int64_t>(1, kGrainValues / per_channel), body);
}
template <class F>
void over_planes(const PlaneShape& shape, F body) {
  at::parallel_for(0, shape.n * shape.c,
                   std::max<int64_t>(1, kGrainValues / std::max<int64_t>(1, shape.s)), body);
}

std::vector<int64_t> reduce_dims(const torch::Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

std::vector<int64_t> channel_shape(const torch::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = x.size(1);
  return shape;
}

// t as a contiguous float64 CPU tensor (itself when it is one already).
torch::Tensor cpu_double(const torch::Tensor& t) {
  if (t.device().is_cpu() && t.scalar_type() == torch::kDouble && t.is_contiguous()) return t;
  return t.to(torch::kCPU, torch::kDouble).contiguous();
}

torch::Tensor ones_like_channels(const torch::Tensor& x) {
  return torch::ones({x.size(1)}, torch::dtype(torch::kDouble).device(x.device()));
}

}  // namespace

void force_generic_path(bool force) {
  g_force_generic.store(force);
}

Moments local_moments(const torch::Tensor& input) {
  const int64_t channels = input.size(1);
  const auto stat_options = torch::dtype(torch::kDouble).device(input.device());
  Moments out;
  out.count = channels == 0 ? 0 : input.numel() / channels;
  if (out.count == 0) {
    out.mean = torch::zeros({channels}, stat_options);
    out.m2 = torch::zeros({channels}, stat_options);
    return out;
  }
  if (use_fast_path(input)) {
    const auto x = input.contiguous();
    out.mean = torch::empty({channels}, stat_options);
    out.m2 = torch::empty({channels}, stat_options);
    const auto shape = plane_shape(x);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "local_moments", [&] {
      over_channels(shape, [&](int64_t c0, int64_t c1) {
        loops_for<scalar_t>().moments(x.data_ptr<scalar_t>(), shape, c0, c1,
                                      out.mean.data_ptr<double>(), out.m2.data_ptr<double>());
      });
    });
    return out;
  }
  // ATen's var_mean is a Welford reduction; float64 keeps the merge as exact as the CPU path.
  auto [var, mean] = torch::var_mean(input.to(torch::kDouble), reduce_dims(input),
                                     /*unbiased=*/false, /*keepdim=*/false);
  out.mean = mean;
  out.m2 = var * static_cast<double>(out.count);
  return out;
}

Moments merge_moments(const std::vector<Moments>& parts, const torch::Device& device) {
  if (parts.empty()) throw std::invalid_argument("merge_moments: no moments to merge");
  const int64_t channels = parts.front().mean.size(0);
  Moments out;
  bool all_cpu = device.is_cpu();
  for (const auto& part : parts) {
    out.count += part.count;
    all_cpu = all_cpu && part.mean.device().is_cpu() && part.m2.device().is_cpu();
  }
  if (all_cpu) {
    // Plain loops: at a sync point the tensors are tiny and ATen's per-call overhead would
    // dominate the latency.
    out.mean = torch::zeros({channels}, torch::kDouble);
    out.m2 = torch::zeros({channels}, torch::kDouble);
    if (out.count == 0) return out;
    double* mean = out.mean.data_ptr<double>();
    double* m2 = out.m2.data_ptr<double>();
    const double total = static_cast<double>(out.count);
    for (const auto& part : parts) {
      if (part.count == 0) continue;
      const double weight = static_cast<double>(part.count) / total;
      const auto part_mean = part.mean.contiguous();
      const double* pm = part_mean.data_ptr<double>();
      for (int64_t c = 0; c < channels; ++c) mean[c] += weight * pm[c];
    }
    for (const auto& part : parts) {
      if (part.count == 0) continue;
      const double n = static_cast<double>(part.count);
      const auto part_mean = part.mean.contiguous();
      const auto part_m2 = part.m2.contiguous();
      const double* pm = part_mean.data_ptr<double>();
      const double* pq = part_m2.data_ptr<double>();
      for (int64_t c = 0; c < channels; ++c) {
        const double d = pm[c] - mean[c];
        m2[c] += pq[c] + n * d * d;
      }
    }
    return out;
  }
  std::vector<torch::Tensor> means, m2s;
  std::vector<double> counts;
  for (const auto& part : parts) {
    if (part.count == 0) continue;
    counts.push_back(static_cast<double>(part.count));
    means.push_back(part.mean.to(device));
    m2s.push_back(part.m2.to(device));
  }
  if (out.count == 0) {
    out.mean = torch::zeros({channels}, torch::dtype(torch::kDouble).device(device));
    out.m2 = torch::zeros({channels}, torch::dtype(torch::kDouble).device(device));
    return out;
  }
  const auto n = torch::tensor(counts, torch::dtype(torch::kDouble).device(device)).unsqueeze(1);
  const auto stacked_means = torch::stack(means);
  out.mean = (stacked_means * n).sum(0) / static_cast<double>(out.count);
  const auto deviation = stacked_means - out.mean;
  out.m2 = torch::stack(m2s).sum(0) + (deviation * deviation * n).sum(0);
  return out;
}

torch::Tensor normalize(const torch::Tensor& input, const torch::Tensor& mean,
                        const torch::Tensor& invstd, const torch::Tensor& weight,
                        const torch::Tensor& bias) {
  const bool params_match =
      (!weight.defined() ||
       (weight.device().is_cpu() && weight.scalar_type() == input.scalar_type())) &&
      (!bias.defined() || (bias.device().is_cpu() && bias.scalar_type() == input.scalar_type()));
  if (use_fast_path(input) && params_match && mean.device().is_cpu()) {
    const auto x = input.contiguous();
    auto y = torch::empty_like(x);
    const int64_t channels = x.size(1);
    const auto m = cpu_double(mean), s = cpu_double(invstd);
    std::vector<double> scale(channels), shift(channels);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "normalize", [&] {
      const auto w = weight.defined() ? weight.contiguous() : torch::Tensor();
      const auto b = bias.defined() ? bias.contiguous() : torch::Tensor();
      // Pointers taken once: data_ptr() checks the storage on every call, which was 12% of a
      // [2, 512] layer's time inside this loop.
      const double* invstd_values = s.data_ptr<double>();
      const scalar_t* w_values = w.defined() ? w.data_ptr<scalar_t>() : nullptr;
      const scalar_t* b_values = b.defined() ? b.data_ptr<scalar_t>() : nullptr;
      for (int64_t c = 0; c < channels; ++c) {
        scale[c] = invstd_values[c] * (w_values ? static_cast<double>(w_values[c]) : 1.0);
        shift[c] = b_values ? static_cast<double>(b_values[c]) : 0.0;
      }
      const auto shape = plane_shape(x);
      over_planes(shape, [&](int64_t p0, int64_t p1) {
        loops_for<scalar_t>().normalize(x.data_ptr<scalar_t>(), shape, p0, p1, m.data_ptr<double>(),
                                        scale.data(), shift.data(), y.data_ptr<scalar_t>());
      });
    });
    return y;
  }
  const auto device = input.device();
  const auto shape = channel_shape(input);
  auto scale = weight.defined() ? invstd * weight.to(device, torch::kDouble) : invstd;
  auto y = (input.to(torch::kDouble) - mean.view(shape)) * scale.view(shape);
  if (bias.defined()) y = y + bias.to(device, torch::kDouble).view(shape);
  return y.to(input.scalar_type());
}

torch::Tensor backward_sums(const torch::Tensor& dy, const torch::Tensor& input,
                            const torch::Tensor& mean, const torch::Tensor& invstd) {
  const int64_t channels = input.size(1);
  auto sums = torch::zeros({2, channels}, torch::dtype(torch::kDouble).device(input.device()));
  if (input.numel() == 0 || !dy.defined()) return sums;
  if (use_fast_path(input)) {
    const auto x = input.contiguous();
    const auto g = dy.to(x.scalar_type()).contiguous();
    const auto m = cpu_double(mean), s = cpu_double(invstd);
    const auto shape = plane_shape(x);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "backward_sums", [&] {
      over_channels(shape, [&](int64_t c0, int64_t c1) {
        loops_for<scalar_t>().backward_sums(g.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), shape,
                                            c0, c1, m.data_ptr<double>(), s.data_ptr<double>(),
                                            sums[0].data_ptr<double>(), sums[1].data_ptr<double>());
      });
    });
    return sums;
  }
  const auto shape = channel_shape(input);
  const auto dims = reduce_dims(input);
  const auto gd = dy.to(torch::kDouble);
  const auto xhat = (input.to(torch::kDouble) - mean.view(shape)) * invstd.view(shape);
  sums[0] = gd.sum(dims);
  sums[1] = (gd * xhat).sum(dims);
  return sums;
}

torch::Tensor backward_input(const torch::Tensor& dy, const torch::Tensor& input,
                             const torch::Tensor& mean, const torch::Tensor& invstd,
                             const torch::Tensor& weight, const torch::Tensor& sums,
                             int64_t total_count) {
  if (input.numel() == 0) return torch::zeros_like(input);
  const auto device = input.device();
  const auto w = weight.defined() ? weight.to(device, torch::kDouble) : ones_like_channels(input);
  const auto global = sums.to(device);
  const double n = static_cast<double>(total_count);
  const auto a = w * invstd;                   // coefficient of dy
  const auto b = -a * invstd * global[1] / n;  // of (x - mean), since x_hat = (x - mean) * invstd
  const auto c = -a * global[0] / n;           // constant term
  if (use_fast_path(input)) {
    const auto x = input.contiguous();
    auto dx = torch::empty_like(x);
    const auto g = dy.defined() ? dy.to(x.scalar_type()).contiguous() : torch::Tensor();
    const auto m = cpu_double(mean), ad = cpu_double(a), bd = cpu_double(b), cd = cpu_double(c);
    const auto shape = plane_shape(x);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "backward_input", [&] {
      over_planes(shape, [&](int64_t p0, int64_t p1) {
        loops_for<scalar_t>().backward_input(
            g.defined() ? g.data_ptr<scalar_t>() : nullptr, x.data_ptr<scalar_t>(), shape, p0, p1,
            m.data_ptr<double>(), ad.data_ptr<double>(), bd.data_ptr<double>(),
            cd.data_ptr<double>(), dx.data_ptr<scalar_t>());
      });
    });
    return dx;
  }
  const auto shape = channel_shape(input);
  auto dx = (input.to(torch::kDouble) - mean.view(shape)) * b.view(shape) + c.view(shape);
  if (dy.defined()) dx = dx + dy.to(torch::kDouble) * a.view(shape);
  return dx.to(input.scalar_type());
}

}  // namespace replicascope::nn::kernels
