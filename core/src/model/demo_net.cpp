// SPDX-License-Identifier: MIT
#include "replicascope/model/demo_net.h"

#include <torch/torch.h>

#include "replicascope/nn/convert_model.h"
#include "replicascope/nn/sync_batchnorm.h"

namespace replicascope::models {

DemoNetImpl::DemoNetImpl(DemoNetOptions options_) : options(options_) {
  reset();
}

void DemoNetImpl::reset() {
  using namespace torch::nn;
  features = register_module(
      "features", Sequential(Conv2d(Conv2dOptions(1, 8, 3).padding(1)), BatchNorm2d(8), ReLU(),
                             MaxPool2d(2), Conv2d(Conv2dOptions(8, 16, 3).padding(1)),
                             BatchNorm2d(16), ReLU(), MaxPool2d(2)));
  head = register_module("head", Sequential(Flatten(), Linear(16 * 7 * 7, 64), BatchNorm1d(64),
                                            ReLU(), Linear(64, options.classes())));
  if (options.synchronized()) {
    nn::convert_model(features.ptr());
    nn::convert_model(head.ptr());
    nn::name_sync_layers(*this);
  }
}

torch::Tensor DemoNetImpl::forward(const torch::Tensor& images) {
  return head->forward(features->forward(images));
}

}  // namespace replicascope::models
