// SPDX-License-Identifier: MIT
// Image folders laid out as torchvision's ImageFolder: DIR/CLASS/.../NAME.png|.jpg|.jpeg, one
// class per subfolder in sorted order of the folders' names, each class's images in sorted
// order. Images are decoded as batches take them (libpng, libjpeg-turbo), converted to the
// sample's channels, scaled to cover its height and width and cropped at the centre.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace replicascope::data {

class Dataset;

// A decoded image: rows of width x channels bytes (1: gray, 3: RGB), top row first.
struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // empty when only the header was read
};

// Reads a PNG or JPEG file (told by its first bytes, not its name); with `header_only`, only its
// size and channels. Alpha is dropped, as PIL's convert("RGB") does; a CMYK (or Adobe YCCK) JPEG
// is made RGB as PIL's convert("RGB") makes it (channels 3). A JPEG is decoded at 1/2,
// 1/4 or 1/8 of its size (its DCT scaling, as PIL's draft mode) when that still covers
// at_least_height x at_least_width. Throws DataError naming the file: unreadable, of another
// format, damaged, or over 64 megapixels.
Image read_image(const std::string& path, bool header_only = false, int64_t at_least_height = 0,
                 int64_t at_least_width = 0);

// `image` as [channels, height, width] bytes: gray made RGB by repeating it, RGB made gray by
// PIL's weights (0.299, 0.587, 0.114); scaled by one factor to cover height x width (bilinear,
// antialiased when shrinking, as torchvision's Resize) and cropped at the centre (CenterCrop),
// computing only the pixels the crop keeps: an image of 999,999 x 1 pixels scales to a strip of
// hundreds of millions of pixels, of which the crop keeps height x width.
torch::Tensor fit_image(const Image& image, int64_t channels, int64_t height, int64_t width);

// The folder as a dataset of `image`'s shape (C,H,W with C 1 or 3; empty: the first image's own
// channels and size), decoded as batches take them. Throws DataError for a folder that is
// missing or has no class subfolders, a class without PNG or JPEG images, an image that cannot
// be read (naming it), two classes that are one folder, or a bad shape. Folders whose names start
// with '.' are left out. Each real folder and image is taken once, at the first path to it in
// the sorted order (a link back up or into another class is not followed again); how many
// links were left out is said in one line on stderr.
std::unique_ptr<Dataset> load_image_folder(const std::string& dir,
                                           const std::vector<int64_t>& image);

}  // namespace replicascope::data
