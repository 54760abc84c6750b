// SPDX-License-Identifier: MIT
// The demo's data: Fashion-MNIST (Debian's dataset-fashion-mnist) when installed, synthetic
// 1x28x28 images of 10 classes otherwise or when asked for.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "replicascope/data/dataset.h"

namespace replicascope::data {

struct DemoData {
  std::shared_ptr<const Dataset> dataset;
  std::string spec;  // "fashion-mnist" or "synthetic", as train's --data names them
};

DemoData demo_data(bool synthetic, uint64_t seed);

}  // namespace replicascope::data
