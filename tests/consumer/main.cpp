// SPDX-License-Identifier: MIT
// Trains one step of a converted model on 2 CPU copies and checks the statistics were synced.
#include <replicascope/replicascope.h>
#include <torch/torch.h>

#include <iostream>

int main() {
  torch::nn::Sequential model(torch::nn::Linear(4, 4), torch::nn::BatchNorm1d(4));
  replicascope::nn::convert_model(model.ptr());
  replicascope::DataParallelWithCallback<torch::nn::SequentialImpl> parallel(
      model.ptr(), replicascope::parse_devices("cpu:2"));
  const auto y = parallel(torch::randn({8, 4}));
  y.pow(2).sum().backward();
  const auto mean = y.mean(0).abs().max().item<double>();
  std::cout << "consumer: max |batch mean| after synchronized BN = " << mean << "\n";
  return mean < 1e-5 ? 0 : 1;
}
