// SPDX-License-Identifier: MIT
// libFuzzer target: data::load_idx on an images file and a labels file, gzipped or plain.
// Input: a 4-byte little-endian length L, then L bytes of the images file, then the labels file
// (tests/fuzz/idx/ holds seeds in this form, tests/fuzz/make_seeds.py makes them).
#include <algorithm>
#include <cstdint>

#include "fuzz_file.h"
#include "replicascope/data/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static replicascope::fuzz::FuzzFile images("images-idx"), labels("labels-idx");
  if (size < 4) return -1;  // not an input of this form: not added to the corpus
  const size_t images_size =
      std::min<size_t>(size - 4, data[0] | data[1] << 8 | data[2] << 16 | uint32_t{data[3]} << 24);
  const auto& images_path = images.write(data + 4, images_size);
  const auto& labels_path = labels.write(data + 4 + images_size, size - 4 - images_size);
  try {
    const auto dataset = replicascope::data::load_idx(images_path, labels_path);
    // A batch of the first samples, as training takes them.
    dataset->get(torch::arange(std::min<int64_t>(dataset->size(), 4)));
  } catch (const replicascope::data::DataError&) {
    // a refused file: what the reader is for
  }
  return 0;
}
