// SPDX-License-Identifier: MIT
// The per-instruction-set builds of the CPU loops agree with each other and with float64 math.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../core/src/nn/cpu_loops.h"

namespace k = replicascope::nn::kernels;

namespace {

std::vector<const k::CpuLoops*> builds() {
  std::vector<const k::CpuLoops*> out{&k::cpu_loops_default()};
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    out.push_back(&k::cpu_loops_avx2());
  }
#endif
  return out;
}

}  // namespace

TEST(CpuLoops, EveryBuildMatchesFloat64Math) {
  torch::manual_seed(4);
  for (const auto& shape : std::vector<std::vector<int64_t>>{{5, 3, 7, 3}, {9, 6}, {2, 4, 19}}) {
    const auto x = torch::randn(shape) * 4 + 3;
    const auto dy = torch::randn(shape);
    const int64_t n = x.size(0), c = x.size(1), s = x.numel() / (n * c);
    const k::PlaneShape planes{n, c, s};
    std::vector<int64_t> dims{0};
    for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
    const auto xd = x.to(torch::kDouble);
    const auto ref_mean = xd.mean(dims);
    const auto ref_m2 = (xd.var(dims, /*unbiased=*/false) * (x.numel() / c));
    for (const auto* loops : builds()) {
      SCOPED_TRACE(loops->isa);
      std::vector<double> mean(c), m2(c);
      loops->f32.moments(x.data_ptr<float>(), planes, 0, c, mean.data(), m2.data());
      for (int64_t ch = 0; ch < c; ++ch) {
        EXPECT_NEAR(mean[ch], ref_mean[ch].item<double>(), 1e-9);
        EXPECT_NEAR(m2[ch], ref_m2[ch].item<double>(), 1e-7);
      }
      std::vector<double> scale(c, 2.0), shift(c, -1.0), invstd(c, 0.5), zero(c, 0.0);
      auto y = torch::empty_like(x);
      loops->f32.normalize(x.data_ptr<float>(), planes, 0, n * c, mean.data(), scale.data(),
                           shift.data(), y.data_ptr<float>());
      const auto view = [&](const std::vector<double>& v) {
        std::vector<int64_t> s_(x.dim(), 1);
        s_[1] = c;
        return torch::tensor(v, torch::kDouble).view(s_);
      };
      const auto ref_y = (xd - view(mean)) * 2.0 - 1.0;
      EXPECT_LE((y.to(torch::kDouble) - ref_y).abs().max().item<double>(), 1e-5);
      std::vector<double> sum_dy(c), sum_dy_xhat(c);
      loops->f32.backward_sums(dy.data_ptr<float>(), x.data_ptr<float>(), planes, 0, c, mean.data(),
                               invstd.data(), sum_dy.data(), sum_dy_xhat.data());
      const auto dyd = dy.to(torch::kDouble);
      const auto ref_sum_dy = dyd.sum(dims);
      const auto ref_sum_dy_xhat = (dyd * (xd - view(mean)) * 0.5).sum(dims);
      for (int64_t ch = 0; ch < c; ++ch) {
        EXPECT_NEAR(sum_dy[ch], ref_sum_dy[ch].item<double>(), 1e-9);
        EXPECT_NEAR(sum_dy_xhat[ch], ref_sum_dy_xhat[ch].item<double>(), 1e-9);
      }
      auto dx = torch::empty_like(x);
      loops->f32.backward_input(dy.data_ptr<float>(), x.data_ptr<float>(), planes, 0, n * c,
                                mean.data(), scale.data(), invstd.data(), shift.data(),
                                dx.data_ptr<float>());
      const auto ref_dx = dyd * 2.0 + (xd - view(mean)) * 0.5 - 1.0;
      EXPECT_LE((dx.to(torch::kDouble) - ref_dx).abs().max().item<double>(), 1e-5);
    }
  }
}
