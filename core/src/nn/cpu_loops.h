// SPDX-License-Identifier: MIT
// The CPU loops of synchronized batch norm, on raw pointers. Compiled once per instruction set
// (cpu_loops_default.cpp, cpu_loops_avx2.cpp) and chosen at run time, as ATen does with its own
// kernels: a build for baseline x86-64 runs these loops at half the speed AVX2 gives.
#pragma once

#include <cstdint>

namespace replicascope::nn::kernels {

// A [N, C, *] tensor as N x C planes of S contiguous values.
struct PlaneShape {
  int64_t n, c, s;
};

template <class T>
struct Loops {
  // Moments (mean, M2) of channels [c0, c1); float64 outputs indexed by channel.
  void (*moments)(const T* x, PlaneShape shape, int64_t c0, int64_t c1, double* mean, double* m2);
  // y = (x - mean) * scale + shift for planes [p0, p1) (plane = sample * C + channel).
  void (*normalize)(const T* x, PlaneShape shape, int64_t p0, int64_t p1, const double* mean,
                    const double* scale, const double* shift, T* y);
  // sum(dy) and sum(dy * (x - mean)) * invstd for channels [c0, c1).
  void (*backward_sums)(const T* dy, const T* x, PlaneShape shape, int64_t c0, int64_t c1,
                        const double* mean, const double* invstd, double* sum_dy,
                        double* sum_dy_xhat);
  // dx = a * dy + b * (x - mean) + c for planes [p0, p1); dy may be null (counts as 0).
  void (*backward_input)(const T* dy, const T* x, PlaneShape shape, int64_t p0, int64_t p1,
                         const double* mean, const double* a, const double* b, const double* c,
                         T* dx);
};

struct CpuLoops {
  const char* isa;
  Loops<float> f32;
  Loops<double> f64;
};

const CpuLoops& cpu_loops_default();
const CpuLoops& cpu_loops_avx2();  // only on x86-64; call only where the CPU has AVX2 and FMA

}  // namespace replicascope::nn::kernels
