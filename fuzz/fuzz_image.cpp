// SPDX-License-Identifier: MIT
// libFuzzer target: data::read_image on one PNG or JPEG file, then fit_image to 3x16x16 (seeds in
// tests/fuzz/image/).
#include <cstdint>

#include "fuzz_file.h"
#include "replicascope/data/dataset.h"
#include "replicascope/data/image_folder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static replicascope::fuzz::FuzzFile file("image");
  const auto& path = file.write(data, size);
  try {
    const auto image = replicascope::data::read_image(path, false, 16, 16);
    replicascope::data::fit_image(image, 3, 16, 16);
    replicascope::data::fit_image(image, 1, 5, 7);
  } catch (const replicascope::data::DataError&) {
    // a refused file: what the reader is for
  }
  return 0;
}
