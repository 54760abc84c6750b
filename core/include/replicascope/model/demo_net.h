// SPDX-License-Identifier: MIT
// The built-in demo model: a small CNN for 1x28x28 images with BatchNorm2d and BatchNorm1d.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

namespace replicascope::models {

struct DemoNetOptions {
  TORCH_ARG(int64_t, classes) = 10;
  // Synchronized BatchNorm (the point of the demo), or plain per-copy BatchNorm to compare.
  TORCH_ARG(bool, synchronized) = true;
};

// features: conv(1->8) BN2d ReLU pool, conv(8->16) BN2d ReLU pool;
// head: flatten, linear(784->64), BN1d, ReLU, linear(64->classes).
class DemoNetImpl : public torch::nn::Cloneable<DemoNetImpl> {
 public:
  explicit DemoNetImpl(DemoNetOptions options = {});
  void reset() override;
  torch::Tensor forward(const torch::Tensor& images);  // [N, 1, 28, 28] -> logits [N, classes]

  DemoNetOptions options;
  torch::nn::Sequential features{nullptr}, head{nullptr};
};
TORCH_MODULE(DemoNet);

}  // namespace replicascope::models
