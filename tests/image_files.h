// SPDX-License-Identifier: MIT
// Image files and image folders for tests and benchmarks: PNGs written with libpng, JPEGs with
// libjpeg, of Fashion-MNIST's own images where Debian's dataset-fashion-mnist is installed.
#pragma once

// jpeglib.h uses size_t and FILE without including what declares them.
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>
#include <png.h>
#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "replicascope/data/dataset.h"

namespace replicascope::testing {

// `hwc`: [H, W, C] bytes, C 1 or 3.
inline void write_png(const std::string& path, const torch::Tensor& hwc) {
  const auto pixels = hwc.contiguous();
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(pixels.size(1));
  image.height = static_cast<png_uint_32>(pixels.size(0));
  image.format = pixels.size(2) == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  if (!png_image_write_to_file(&image, path.c_str(), 0, pixels.data_ptr<uint8_t>(), 0, nullptr)) {
    throw std::runtime_error("write_png " + path + ": " + image.message);
  }
}

// `hwc`: [H, W, C] bytes, C 1 (gray), 3 (RGB) or 4 (CMYK, stored as given: libjpeg does not
// invert it). `stored_as` JCS_YCCK stores CMYK as Adobe's YCCK; libjpeg writes Adobe's marker
// for CMYK and YCCK unless `adobe_marker` is false.
inline void write_jpeg(const std::string& path, const torch::Tensor& hwc, int quality = 95,
                       J_COLOR_SPACE stored_as = JCS_UNKNOWN, bool adobe_marker = true) {
  const auto pixels = hwc.contiguous();
  FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) throw std::runtime_error("write_jpeg: cannot create " + path);
  jpeg_compress_struct info;
  jpeg_error_mgr errors;
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  jpeg_stdio_dest(&info, file);
  info.image_width = static_cast<JDIMENSION>(pixels.size(1));
  info.image_height = static_cast<JDIMENSION>(pixels.size(0));
  info.input_components = static_cast<int>(pixels.size(2));
  const J_COLOR_SPACE spaces[] = {JCS_GRAYSCALE, JCS_UNKNOWN, JCS_RGB, JCS_CMYK};
  info.in_color_space = spaces[pixels.size(2) - 1];
  jpeg_set_defaults(&info);
  if (stored_as != JCS_UNKNOWN) jpeg_set_colorspace(&info, stored_as);
  if (!adobe_marker) info.write_Adobe_marker = FALSE;
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  const auto row = static_cast<size_t>(pixels.size(1) * pixels.size(2));
  auto* data = pixels.data_ptr<uint8_t>();
  while (info.next_scanline < info.image_height) {
    JSAMPROW rows[1] = {data + row * info.next_scanline};
    jpeg_write_scanlines(&info, rows, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::fclose(file);
}

// The first `count` Fashion-MNIST training images [count, 28, 28] and labels, or, where the
// dataset is not installed, seeded random bytes and labels 0..9.
inline std::pair<torch::Tensor, std::vector<int64_t>> fashion_mnist_bytes(int64_t count) {
  const auto paths = data::installed_fashion_mnist();
  if (!paths) {
    torch::manual_seed(3);
    const auto images = torch::randint(256, {count, 28, 28}, torch::kUInt8);
    std::vector<int64_t> labels(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) labels[i] = i % 10;
    return {images, labels};
  }
  auto read = [](const std::string& path, int skip, int64_t bytes) {
    gzFile file = gzopen(path.c_str(), "rb");
    std::vector<uint8_t> out(static_cast<size_t>(skip + bytes));
    gzread(file, out.data(), static_cast<unsigned>(out.size()));
    gzclose(file);
    out.erase(out.begin(), out.begin() + skip);
    return out;
  };
  auto pixels = read(paths->images, 16, count * 28 * 28);
  auto labels = read(paths->labels, 8, count);
  return {torch::from_blob(pixels.data(), {count, 28, 28}, torch::kUInt8).clone(),
          std::vector<int64_t>(labels.begin(), labels.end())};
}

// Fashion-MNIST's class names: folders sort them in another order than their labels.
inline const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names{"tshirt", "trouser", "pullover", "dress", "coat",
                                              "sandal", "shirt",   "sneaker",  "bag",   "boot"};
  return names;
}

// Where each source image lands in the folder's dataset, as torchvision's ImageFolder orders it:
// by class folder name, then file name. Returns the source index of each sample.
inline std::vector<int64_t> folder_order(const std::vector<int64_t>& labels) {
  std::vector<std::pair<std::string, int64_t>> named;
  for (size_t i = 0; i < labels.size(); ++i) {
    named.emplace_back(fashion_mnist_classes()[static_cast<size_t>(labels[i])],
                       static_cast<int64_t>(i));
  }
  std::sort(named.begin(), named.end());
  std::vector<int64_t> order;
  for (const auto& entry : named) order.push_back(entry.second);
  return order;
}

// DIR/<class name>/<index, 5 digits>.png (or .jpg) for the first `count` Fashion-MNIST images,
// gray, or RGB (the gray repeated) with `rgb`. Returns the images [count, 28, 28] and labels.
inline std::pair<torch::Tensor, std::vector<int64_t>> make_image_folder(
    const std::filesystem::path& dir, int64_t count, bool jpeg = false, bool rgb = false) {
  auto [images, labels] = fashion_mnist_bytes(count);
  for (int64_t i = 0; i < count; ++i) {
    const auto folder = dir / fashion_mnist_classes()[static_cast<size_t>(labels[i])];
    std::filesystem::create_directories(folder);
    char name[32];
    std::snprintf(name, sizeof(name), "%05lld.%s", static_cast<long long>(i), jpeg ? "jpg" : "png");
    auto hwc = images[i].unsqueeze(2);
    if (rgb) hwc = hwc.expand({28, 28, 3});
    if (jpeg) {
      write_jpeg((folder / name).string(), hwc);
    } else {
      write_png((folder / name).string(), hwc);
    }
  }
  return {images, labels};
}

}  // namespace replicascope::testing
