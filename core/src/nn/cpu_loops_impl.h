// SPDX-License-Identifier: MIT
// The loop bodies behind cpu_loops.h. Included only by the per-instruction-set files, inside an
// anonymous namespace, and free of any other header: an inline function from a shared header
// compiled here with AVX2 could be picked by the linker for every caller.
#pragma once

// Independent accumulator lanes, so the compiler can vectorize float64 reductions without
// reassociating a single sum (which strict IEEE rules forbid).
constexpr int64_t kLanes = 8;

template <class T>
double plane_sum(const T* p, int64_t s) {
  double lanes[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= s; k += kLanes) {
    for (int64_t j = 0; j < kLanes; ++j) lanes[j] += static_cast<double>(p[k + j]);
  }
  double total = 0;
  for (; k < s; ++k) total += static_cast<double>(p[k]);
  for (int64_t j = 0; j < kLanes; ++j) total += lanes[j];
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
  for (int64_t j = 0; j < kLanes; ++j) total += lanes[j];
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

// Rows of C values ([N, C] input): two passes over the rows with per-channel accumulators,
// contiguous and vectorizable over channels.
template <class T>
void moments_rows(const T* x, PlaneShape shape, int64_t c0, int64_t c1, double* mean, double* m2) {
  for (int64_t c = c0; c < c1; ++c) mean[c] = 0, m2[c] = 0;
  for (int64_t r = 0; r < shape.n; ++r) {
    const T* row = x + r * shape.c;
    for (int64_t c = c0; c < c1; ++c) mean[c] += static_cast<double>(row[c]);
  }
  for (int64_t c = c0; c < c1; ++c) mean[c] /= static_cast<double>(shape.n);
  for (int64_t r = 0; r < shape.n; ++r) {
    const T* row = x + r * shape.c;
    for (int64_t c = c0; c < c1; ++c) {
      const double d = static_cast<double>(row[c]) - mean[c];
      m2[c] += d * d;
    }
  }
}

// Each (sample, channel) plane in two passes, merged across samples with Chan's formula.
template <class T>
void moments(const T* x, PlaneShape shape, int64_t c0, int64_t c1, double* mean, double* m2) {
  if (shape.s == 1) return moments_rows(x, shape, c0, c1, mean, m2);
  for (int64_t c = c0; c < c1; ++c) {
    double n = 0, mu = 0, q = 0;
    for (int64_t i = 0; i < shape.n; ++i) {
      const T* p = x + (i * shape.c + c) * shape.s;
      const double plane_mean = plane_sum(p, shape.s) / static_cast<double>(shape.s);
      chan_merge(n, mu, q, static_cast<double>(shape.s), plane_mean,
                 plane_m2(p, shape.s, plane_mean));
    }
    mean[c] = mu;
    m2[c] = q;
  }
}

template <class T>
void normalize(const T* x, PlaneShape shape, int64_t p0, int64_t p1, const double* mean,
               const double* scale, const double* shift, T* y) {
  for (int64_t plane = p0; plane < p1; ++plane) {
    const int64_t c = plane % shape.c;
    const double m = mean[c], a = scale[c], b = shift[c];
    const T* p = x + plane * shape.s;
    T* q = y + plane * shape.s;
    for (int64_t k = 0; k < shape.s; ++k) {
      q[k] = static_cast<T>((static_cast<double>(p[k]) - m) * a + b);
    }
  }
}

template <class T>
void backward_sums(const T* dy, const T* x, PlaneShape shape, int64_t c0, int64_t c1,
                   const double* mean, const double* invstd, double* sum_dy, double* sum_dy_xhat) {
  for (int64_t c = c0; c < c1; ++c) {
    double lanes_dy[kLanes] = {}, lanes_dy_xmu[kLanes] = {};
    double total_dy = 0, total_dy_xmu = 0;
    const double m = mean[c];
    for (int64_t i = 0; i < shape.n; ++i) {
      const T* gp = dy + (i * shape.c + c) * shape.s;
      const T* xp = x + (i * shape.c + c) * shape.s;
      int64_t k = 0;
      for (; k + kLanes <= shape.s; k += kLanes) {
        for (int64_t j = 0; j < kLanes; ++j) {
          const double d = static_cast<double>(gp[k + j]);
          lanes_dy[j] += d;
          lanes_dy_xmu[j] += d * (static_cast<double>(xp[k + j]) - m);
        }
      }
      for (; k < shape.s; ++k) {
        const double d = static_cast<double>(gp[k]);
        total_dy += d;
        total_dy_xmu += d * (static_cast<double>(xp[k]) - m);
      }
    }
    for (int64_t j = 0; j < kLanes; ++j) total_dy += lanes_dy[j], total_dy_xmu += lanes_dy_xmu[j];
    sum_dy[c] = total_dy;
    sum_dy_xhat[c] = total_dy_xmu * invstd[c];
  }
}

template <class T>
void backward_input(const T* dy, const T* x, PlaneShape shape, int64_t p0, int64_t p1,
                    const double* mean, const double* a, const double* b, const double* c, T* dx) {
  for (int64_t plane = p0; plane < p1; ++plane) {
    const int64_t ch = plane % shape.c;
    const double m = mean[ch], ac = a[ch], bc = b[ch], cc = c[ch];
    const T* xp = x + plane * shape.s;
    T* q = dx + plane * shape.s;
    if (dy == nullptr) {
      for (int64_t k = 0; k < shape.s; ++k) {
        q[k] = static_cast<T>(bc * (static_cast<double>(xp[k]) - m) + cc);
      }
      continue;
    }
    const T* gp = dy + plane * shape.s;
    for (int64_t k = 0; k < shape.s; ++k) {
      q[k] = static_cast<T>(ac * static_cast<double>(gp[k]) +
                            bc * (static_cast<double>(xp[k]) - m) + cc);
    }
  }
}

template <class T>
Loops<T> make_loops() {
  return {&moments<T>, &normalize<T>, &backward_sums<T>, &backward_input<T>};
}
