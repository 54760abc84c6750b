// SPDX-License-Identifier: MIT
// The numeric pieces of synchronized batch norm, apart from any synchronization.
//
// Per-copy statistics are moments (count, mean, M2 = sum of squared deviations), computed per
// (sample, channel) plane in two passes and merged across planes, and then across copies, with
// Chan's count-weighted formula, all accumulated in float64. Sum and sum-of-squares, as the
// Python original sends, cancel catastrophically when the mean is large against the spread.
//
// Tensors are [N, C, *]. Statistics are float64 [C] tensors on the input's device. CPU tensors
// of float or double take a hand-written path; everything else (CUDA, half, bfloat16) a generic
// one built from ATen operations.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace replicascope::nn::kernels {

struct Moments {
  int64_t count = 0;   // values per channel
  torch::Tensor mean;  // float64 [C]; 0 where count is 0
  torch::Tensor m2;    // float64 [C]: sum of squared deviations from mean
};

// The moments of x over every dimension but 1.
Moments local_moments(const torch::Tensor& x);

// Chan's merge of several moments, on `device`: mean = sum(n_i mean_i) / n and
// M2 = sum(M2_i) + sum(n_i (mean_i - mean)^2). Parts with count 0 contribute nothing.
Moments merge_moments(const std::vector<Moments>& parts, const torch::Device& device);

// y = (x - mean) * invstd * weight + bias, computed in float64 and rounded once.
// weight and bias may be undefined (affine = false). mean and invstd: float64 [C].
torch::Tensor normalize(const torch::Tensor& x, const torch::Tensor& mean,
                        const torch::Tensor& invstd, const torch::Tensor& weight,
                        const torch::Tensor& bias);

// Per-channel sums of the backward pass: float64 [2, C] holding sum(dy) and sum(dy * x_hat),
// x_hat = (x - mean) * invstd.
torch::Tensor backward_sums(const torch::Tensor& dy, const torch::Tensor& x,
                            const torch::Tensor& mean, const torch::Tensor& invstd);

// dx = weight * invstd * (dy - sum_dy / n - x_hat * sum_dy_xhat / n), where `sums` are the
// backward sums over the whole (all copies') batch of `total_count` values per channel.
// dy may be undefined (this copy's output was not used): it counts as zero.
torch::Tensor backward_input(const torch::Tensor& dy, const torch::Tensor& x,
                             const torch::Tensor& mean, const torch::Tensor& invstd,
                             const torch::Tensor& weight, const torch::Tensor& sums,
                             int64_t total_count);

// Tests only: route CPU tensors through the generic path too, so that the path CUDA takes is
// checked against the hand-written one on a machine without a GPU.
void force_generic_path(bool force);

}  // namespace replicascope::nn::kernels
