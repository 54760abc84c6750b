#include "replicascope/nn/batchnorm_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>

namespace replicascope::nn::kernels {
namespace {

std::atomic<bool> g_force_generic{false};

// Independent accumulator lanes, so the compiler can vectorize float64 reductions without
// reassociating a single sum (which it may not do under strict IEEE rules).
constexpr int64_t kLanes = 8;

bool use_fast_path(const torch::Tensor& x) {
  return !g_force_generic.load(std::memory_order_relaxed) && x.device().is_cpu() &&
         (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble);
}

// A [N, C, *] tensor seen as N x C planes of S contiguous values.
struct Planes {
  int64_t n, c, s;
  explicit Planes(const torch::Tensor& x)
      : n(x.size(0)), c(x.size(1)), s(x.dim() > 2 ? x.numel() / std::max<int64_t>(1, n * c) : 1) {
    if (n * c == 0) s = 0;
    for (int64_t d = 2; d < x.dim(); ++d) {
      if (x.size(d) == 0) s = 0;
    }
  }
  int64_t offset(int64_t sample, int64_t channel) const { return (sample * c + channel) * s; }
};

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

template <class T>
double plane_sum(const T* p, int64_t s) {
  double lanes[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= s; k += kLanes) {
    for (int64_t j = 0; j < kLanes; ++j) lanes[j] += static_cast<double>(p[k + j]);
  }
  double total = 0;
  for (; k < s; ++k) total += static_cast<double>(p[k]);
  for (double lane : lanes) total += lane;
  return total;
}

template <class T>
double plane_m2(const T* p, int64_t s, double mean) {
  double lanes[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= s; k += kLanes) {
    for (int64_t j = 0; j < kLanes; ++j) {
      const double d = static_cast<double>(p[k + j]) - mean;
      lanes[j] += d * d;
    }
  }
  double total = 0;
  for (; k < s; ++k) {
    const double d = static_cast<double>(p[k]) - mean;
    total += d * d;
  }
  for (double lane : lanes) total += lane;
  return total;
}

// Chan's merge of (nb, mean_b, m2_b) into (na, mean_a, m2_a).
inline void chan_merge(double& na, double& mean_a, double& m2_a, double nb, double mean_b,
                       double m2_b) {
  if (nb == 0) return;
  const double n = na + nb;
  const double delta = mean_b - mean_a;
  mean_a += delta * nb / n;
  m2_a += m2_b + delta * delta * na * nb / n;
  na = n;
}

// [N, C] input (BatchNorm1d on 2D input): planes of one value, so go row by row instead, two
// passes over rows with per-channel float64 accumulators (contiguous, vectorizable over C).
template <class T>
void moments_rows_cpu(const torch::Tensor& x, double* mean, double* m2) {
  const int64_t rows = x.size(0), channels = x.size(1);
  const T* data = x.data_ptr<T>();
  std::fill(mean, mean + channels, 0.0);
  std::fill(m2, m2 + channels, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = data + r * channels;
    for (int64_t c = 0; c < channels; ++c) mean[c] += static_cast<double>(row[c]);
  }
  for (int64_t c = 0; c < channels; ++c) mean[c] /= static_cast<double>(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = data + r * channels;
    for (int64_t c = 0; c < channels; ++c) {
      const double d = static_cast<double>(row[c]) - mean[c];
      m2[c] += d * d;
    }
  }
}

template <class T>
void moments_cpu(const torch::Tensor& x, double* mean, double* m2) {
  if (x.dim() == 2) return moments_rows_cpu<T>(x, mean, m2);
  const Planes planes(x);
  const T* data = x.data_ptr<T>();
  at::parallel_for(0, planes.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      double n = 0, mu = 0, q = 0;
      for (int64_t i = 0; i < planes.n && planes.s > 0; ++i) {
        const T* p = data + planes.offset(i, c);
        const double plane_mean = plane_sum(p, planes.s) / static_cast<double>(planes.s);
        chan_merge(n, mu, q, static_cast<double>(planes.s), plane_mean,
                   plane_m2(p, planes.s, plane_mean));
      }
      mean[c] = mu;
      m2[c] = q;
    }
  });
}

template <class T>
void normalize_cpu(const torch::Tensor& x, const double* mean, const double* scale,
                   const double* shift, torch::Tensor& y) {
  const Planes planes(x);
  const T* in = x.data_ptr<T>();
  T* out = y.data_ptr<T>();
  if (x.dim() == 2) {  // rows of C values: vectorize over channels
    for (int64_t r = 0; r < planes.n; ++r) {
      const T* p = in + r * planes.c;
      T* q = out + r * planes.c;
      for (int64_t c = 0; c < planes.c; ++c) {
        q[c] = static_cast<T>((static_cast<double>(p[c]) - mean[c]) * scale[c] + shift[c]);
      }
    }
    return;
  }
  at::parallel_for(0, planes.n * planes.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t c = plane % planes.c;
      const double m = mean[c], a = scale[c], b = shift[c];
      const T* p = in + plane * planes.s;
      T* q = out + plane * planes.s;
      for (int64_t k = 0; k < planes.s; ++k) {
        q[k] = static_cast<T>((static_cast<double>(p[k]) - m) * a + b);
      }
    }
  });
}

template <class T>
void backward_sums_cpu(const torch::Tensor& dy, const torch::Tensor& x, const double* mean,
                       const double* invstd, double* sum_dy, double* sum_dy_xhat) {
  const Planes planes(x);
  const T* g = dy.data_ptr<T>();
  const T* in = x.data_ptr<T>();
  at::parallel_for(0, planes.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      double lanes_dy[kLanes] = {}, lanes_dy_xmu[kLanes] = {};
      double tail_dy = 0, tail_dy_xmu = 0;
      const double m = mean[c];
      for (int64_t i = 0; i < planes.n; ++i) {
        const T* gp = g + planes.offset(i, c);
        const T* xp = in + planes.offset(i, c);
        int64_t k = 0;
        for (; k + kLanes <= planes.s; k += kLanes) {
          for (int64_t j = 0; j < kLanes; ++j) {
            const double d = static_cast<double>(gp[k + j]);
            lanes_dy[j] += d;
            lanes_dy_xmu[j] += d * (static_cast<double>(xp[k + j]) - m);
          }
        }
        for (; k < planes.s; ++k) {
          const double d = static_cast<double>(gp[k]);
          tail_dy += d;
          tail_dy_xmu += d * (static_cast<double>(xp[k]) - m);
        }
      }
      for (int64_t j = 0; j < kLanes; ++j) tail_dy += lanes_dy[j], tail_dy_xmu += lanes_dy_xmu[j];
      sum_dy[c] = tail_dy;
      sum_dy_xhat[c] = tail_dy_xmu * invstd[c];
    }
  });
}

// dx = a * dy + b * (x - mean) + c per channel.
template <class T>
void backward_input_cpu(const T* dy, const torch::Tensor& x, const double* mean, const double* a,
                        const double* b, const double* c, torch::Tensor& dx) {
  const Planes planes(x);
  const T* in = x.data_ptr<T>();
  T* out = dx.data_ptr<T>();
  at::parallel_for(0, planes.n * planes.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t ch = plane % planes.c;
      const double m = mean[ch], ac = a[ch], bc = b[ch], cc = c[ch];
      const T* xp = in + plane * planes.s;
      T* q = out + plane * planes.s;
      if (dy == nullptr) {
        for (int64_t k = 0; k < planes.s; ++k) {
          q[k] = static_cast<T>(bc * (static_cast<double>(xp[k]) - m) + cc);
        }
        continue;
      }
      const T* gp = dy + plane * planes.s;
      for (int64_t k = 0; k < planes.s; ++k) {
        q[k] = static_cast<T>(ac * static_cast<double>(gp[k]) +
                              bc * (static_cast<double>(xp[k]) - m) + cc);
      }
    }
  });
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
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "local_moments", [&] {
      moments_cpu<scalar_t>(x, out.mean.data_ptr<double>(), out.m2.data_ptr<double>());
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
  const bool params_match = (!weight.defined() || (weight.device().is_cpu() &&
                                                   weight.scalar_type() == input.scalar_type())) &&
                            (!bias.defined() || (bias.device().is_cpu() &&
                                                 bias.scalar_type() == input.scalar_type()));
  if (use_fast_path(input) && params_match && mean.device().is_cpu()) {
    const auto x = input.contiguous();
    auto y = torch::empty_like(x);
    const int64_t channels = x.size(1);
    const auto m = cpu_double(mean), s = cpu_double(invstd);
    std::vector<double> scale(channels), shift(channels);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "normalize", [&] {
      const auto w = weight.defined() ? weight.contiguous() : torch::Tensor();
      const auto b = bias.defined() ? bias.contiguous() : torch::Tensor();
      for (int64_t c = 0; c < channels; ++c) {
        scale[c] = s.data_ptr<double>()[c] *
                   (w.defined() ? static_cast<double>(w.data_ptr<scalar_t>()[c]) : 1.0);
        shift[c] = b.defined() ? static_cast<double>(b.data_ptr<scalar_t>()[c]) : 0.0;
      }
      normalize_cpu<scalar_t>(x, m.data_ptr<double>(), scale.data(), shift.data(), y);
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
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "backward_sums", [&] {
      backward_sums_cpu<scalar_t>(g, x, m.data_ptr<double>(), s.data_ptr<double>(),
                                  sums[0].data_ptr<double>(), sums[1].data_ptr<double>());
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
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "backward_input", [&] {
      backward_input_cpu<scalar_t>(g.defined() ? g.data_ptr<scalar_t>() : nullptr, x,
                                   m.data_ptr<double>(), ad.data_ptr<double>(),
                                   bd.data_ptr<double>(), cd.data_ptr<double>(), dx);
    });
    return dx;
  }
  const auto shape = channel_shape(input);
  auto dx = (input.to(torch::kDouble) - mean.view(shape)) * b.view(shape) + c.view(shape);
  if (dy.defined()) dx = dx + dy.to(torch::kDouble) * a.view(shape);
  return dx.to(input.scalar_type());
}

}  // namespace replicascope::nn::kernels
