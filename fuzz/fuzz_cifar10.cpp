// SPDX-License-Identifier: MIT
// libFuzzer target: data::load_cifar10 on one batch file, gzipped or plain (seeds in
// tests/fuzz/cifar10/).
#include <algorithm>
#include <cstdint>

#include "fuzz_file.h"
#include "replicascope/data/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static replicascope::fuzz::FuzzFile batch("data_batch_1.bin");
  const auto& path = batch.write(data, size);
  try {
    const auto dataset = replicascope::data::load_cifar10({path});
    dataset->get(torch::arange(std::min<int64_t>(dataset->size(), 4)));
  } catch (const replicascope::data::DataError&) {
    // a refused file: what the reader is for
  }
  return 0;
}
