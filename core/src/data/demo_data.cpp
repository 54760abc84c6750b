// SPDX-License-Identifier: MIT
#include "replicascope/data/demo_data.h"

namespace replicascope::data {

DemoData demo_data(bool synthetic, uint64_t seed) {
  if (!synthetic) {
    if (const auto fashion = installed_fashion_mnist()) {
      return {load_idx(fashion->images, fashion->labels), "fashion-mnist"};
    }
  }
  return {make_synthetic({1, 28, 28}, 10, 4096, seed), "synthetic"};
}

}  // namespace replicascope::data
