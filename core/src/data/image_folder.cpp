// SPDX-License-Identifier: MIT
// Image folders: finding the classes and their images as torchvision's ImageFolder does, and
// fitting each decoded image to the sample shape.
#include "replicascope/data/image_folder.h"

#include <sys/stat.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <queue>
#include <set>

#include "replicascope/base/usage.h"
#include "replicascope/data/dataset.h"

namespace replicascope::data {
namespace {

namespace fs = std::filesystem;

bool is_image_name(const fs::path& path) {
  auto extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg";
}

bool is_hidden(const fs::path& path) {
  const auto name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

// A folder's or file's identity through links: its device and inode.
using FileId = std::pair<uint64_t, uint64_t>;

std::optional<FileId> identity(const fs::path& path) {
  struct stat status;
  if (::stat(path.c_str(), &status) != 0) return std::nullopt;
  return FileId{static_cast<uint64_t>(status.st_dev), static_cast<uint64_t>(status.st_ino)};
}

// What the walk through the classes has taken: each real folder and image once, so that a link
// back up (a loop) or into another class neither repeats images nor gives them a second label.
struct Taken {
  std::set<FileId> folders, images;
  int64_t left_out = 0;  // second paths to a folder or image (links, symbolic or hard)
  std::string first_left_out;
  // False for a path to what `set` has already (counted) and for one that cannot be looked at (a
  // dangling link, not counted: no image, as torchvision leaves out what has no image extension).
  bool take(std::set<FileId>& set, const fs::path& path) {
    const auto id = identity(path);
    if (!id) return false;
    if (set.insert(*id).second) return true;
    if (left_out++ == 0) first_left_out = path.string();
    return false;
  }
};

// A class folder's images, in the order of torchvision's sorted(os.walk(folder, followlinks=True))
// and sorted names. Folders are walked in sorted order of their paths (a subfolder's sorts after
// its folder's), so that of several paths to one real folder the first in that order is walked.
std::vector<std::string> images_in(const fs::path& folder, Taken& taken) {
  std::priority_queue<std::string, std::vector<std::string>, std::greater<>> folders;
  folders.push(folder.string());
  std::vector<std::pair<std::string, std::string>> found;  // parent folder, name
  while (!folders.empty()) {
    const fs::path current = folders.top();
    folders.pop();
    if (current != folder && !taken.take(taken.folders, current)) continue;
    std::error_code error;
    for (fs::directory_iterator it(current, error), end; !error && it != end; it.increment(error)) {
      std::error_code entry;  // only a folder that cannot be listed is an error
      if (it->is_directory(entry)) {
        if (!is_hidden(it->path())) folders.push(it->path().string());
      } else if (is_image_name(it->path()) && it->is_regular_file(entry)) {
        found.emplace_back(current.string(), it->path().filename().string());
      }
    }
    if (error) {
      throw DataError("'" + current.string() + "': cannot list it (" + error.message() + ")");
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (const auto& [parent, name] : found) {
    const auto path = fs::path(parent) / name;
    if (taken.take(taken.images, path)) paths.push_back(path.string());
  }
  return paths;
}

class ImageFiles : public SampleSource {
 public:
  ImageFiles(std::vector<std::string> paths, std::vector<int64_t> shape)
      : paths_(std::move(paths)), shape_(std::move(shape)) {}
  void read(int64_t index, uint8_t* out) const override {
    const auto& path = paths_.at(static_cast<size_t>(index));
    const auto sample =
        fit_image(read_image(path, false, shape_[1], shape_[2]), shape_[0], shape_[1], shape_[2]);
    std::memcpy(out, sample.data_ptr<uint8_t>(), static_cast<size_t>(sample.numel()));
  }

 private:
  std::vector<std::string> paths_;
  std::vector<int64_t> shape_;  // C, H, W
};

// The folder's class folders in sorted order of their names, taken (with the folder itself)
// before any is walked: a link from inside a class to the folder or to another class is left out,
// not walked as part of that class.
std::vector<std::string> class_names(const std::string& dir, Taken& taken) {
  std::vector<std::string> classes;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    std::error_code entry;  // a dangling link is no class folder
    if (it->is_directory(entry) && !is_hidden(it->path())) {
      classes.push_back(it->path().filename().string());
    }
  }
  if (error) throw DataError("'" + dir + "': cannot list it (" + error.message() + ")");
  if (classes.empty()) {
    throw DataError("'" + dir +
                    "': no class subfolders; expected one subfolder per class holding its PNG or "
                    "JPEG images (DIR/CLASS/NAME.png), as torchvision's ImageFolder");
  }
  std::sort(classes.begin(), classes.end());
  std::map<FileId, std::string> owners;
  if (const auto root = identity(dir)) owners.emplace(*root, "the image folder itself");
  for (const auto& name : classes) {
    const auto folder = fs::path(dir) / name;
    const auto id = identity(folder);
    if (!id) continue;  // gone since it was listed: its walk says so
    const auto [owner, added] = owners.emplace(*id, "class '" + name + "'");
    if (!added) {
      throw DataError("class '" + name + "' (" + folder.string() + ") is the same folder as " +
                      owner->second + " (a link?); expected a folder of its own per class");
    }
  }
  for (const auto& [id, owner] : owners) taken.folders.insert(id);
  return classes;
}

// The source pixels one output pixel takes along one axis, and their weights: LibTorch 1.13's
// antialiased bilinear interpolation (upsample_bilinear2d_aa, align_corners false, as
// torchvision's Resize) in its float arithmetic, so that pixels are those F::interpolate gives.
struct Taps {
  int64_t first = 0;
  std::vector<float> weights;
};

float triangle(float x) {  // the bilinear filter, PIL's as LibTorch took it
  if (x < 0.0) x = -x;
  return x < 1.0 ? static_cast<float>(1.0 - x) : 0.0f;
}

Taps taps(int64_t index, int64_t in_size, int64_t out_size) {
  if (in_size == out_size) return {index, {1.0f}};  // LibTorch's weights are then 1 and 0
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  const float support = scale >= 1.0 ? 1.0 * scale : 1.0;  // half the filter's width
  const float inverse = scale >= 1.0 ? 1.0 / scale : 1.0;
  const float center = scale * (index + 0.5);
  Taps taps;
  taps.first = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
  const int64_t count =
      std::min(static_cast<int64_t>(center + support + 0.5), in_size) - taps.first;
  float total = 0;
  for (int64_t j = 0; j < count; ++j) {
    taps.weights.push_back(triangle((j + taps.first - center + 0.5) * inverse));
    total += taps.weights.back();
  }
  // Float's rounding of the centre past the last pixel (sides of tens of millions): LibTorch
  // gives 0 there, the nearest pixel is closer to the image.
  if (total == 0) return {std::clamp<int64_t>(static_cast<int64_t>(center), 0, in_size - 1), {1.f}};
  for (auto& weight : taps.weights) weight /= total;
  return taps;
}

// Interleaved bytes, rows of width x channels, top row first (an Image's layout).
struct Pixels {
  const uint8_t* data;
  int64_t height, width, channels;
};

// The height x width window at (top, left) of `image` scaled to scaled_height x scaled_width, as
// [C, height, width] bytes, computing only the window's pixels: across first (as LibTorch) for
// the source rows the window's rows take, then down, in float, rounded half to even. Memory: the
// output and, in float, the window's width times those rows.
torch::Tensor scale_window(const Pixels& image, int64_t scaled_height, int64_t scaled_width,
                           int64_t top, int64_t left, int64_t height, int64_t width) {
  const int64_t channels = image.channels;
  std::vector<Taps> columns, rows;
  for (int64_t x = 0; x < width; ++x) columns.push_back(taps(left + x, image.width, scaled_width));
  int64_t first_row = image.height, end_row = 0;
  for (int64_t y = 0; y < height; ++y) {
    rows.push_back(taps(top + y, image.height, scaled_height));
    first_row = std::min(first_row, rows.back().first);
    end_row =
        std::max(end_row, rows.back().first + static_cast<int64_t>(rows.back().weights.size()));
  }
  const int64_t kept_rows = end_row - first_row;
  std::vector<float> across(static_cast<size_t>(channels * kept_rows * width));
  for (int64_t y = 0; y < kept_rows; ++y) {
    const uint8_t* row = image.data + (first_row + y) * image.width * channels;
    for (int64_t x = 0; x < width; ++x) {
      const auto& tap = columns[x];
      for (int64_t c = 0; c < channels; ++c) {
        const uint8_t* from = row + tap.first * channels + c;
        float sum = from[0] * tap.weights[0];
        for (size_t j = 1; j < tap.weights.size(); ++j) sum += from[j * channels] * tap.weights[j];
        across[(c * kept_rows + y) * width + x] = sum;
      }
    }
  }
  auto fitted = torch::empty({channels, height, width}, torch::kUInt8);
  uint8_t* out = fitted.data_ptr<uint8_t>();
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t y = 0; y < height; ++y) {
      const auto& tap = rows[y];
      const float* from = across.data() + (c * kept_rows + tap.first - first_row) * width;
      for (int64_t x = 0; x < width; ++x, ++from) {
        float sum = from[0] * tap.weights[0];
        for (size_t j = 1; j < tap.weights.size(); ++j) sum += from[j * width] * tap.weights[j];
        *out++ = static_cast<uint8_t>(std::clamp(std::nearbyint(sum), 0.0f, 255.0f));
      }
    }
  }
  return fitted;
}

// PIL's convert("L"): (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16 of each pixel.
std::vector<uint8_t> gray_of(const Image& image) {
  std::vector<uint8_t> gray(static_cast<size_t>(image.height * image.width));
  const uint8_t* rgb = image.pixels.data();
  for (auto& out : gray) {
    out = static_cast<uint8_t>((rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16);
    rgb += 3;
  }
  return gray;
}

}  // namespace

torch::Tensor fit_image(const Image& image, int64_t channels, int64_t height, int64_t width) {
  if (image.pixels.size() != static_cast<size_t>(image.height * image.width * image.channels)) {
    throw DataError("fit_image: expected an image's pixels, got only its header");
  }
  // RGB asked as gray is made gray first; gray asked as RGB is fitted as one plane and repeated
  // (the same pixels for a third of the work).
  std::vector<uint8_t> gray;
  Pixels pixels{image.pixels.data(), image.height, image.width, image.channels};
  if (channels == 1 && image.channels == 3) {
    gray = gray_of(image);
    pixels = {gray.data(), image.height, image.width, 1};
  }
  // One factor for both sides, so that the image covers height x width without distortion: the
  // side that needs the larger factor gets its size, the other its size times that factor
  // truncated, as torchvision's Resize(size) gives the long side int(size * long / short).
  int64_t scaled_height = height, scaled_width = width;
  if (height * image.width >= width * image.height) {
    scaled_width = std::max(width, image.width * height / image.height);
  } else {
    scaled_height = std::max(height, image.height * width / image.width);
  }
  // torchvision's CenterCrop: int(round((size - crop) / 2)) from the top and left, Python's
  // round (a half to even, as nearbyint in the default rounding mode).
  const auto top = static_cast<int64_t>(std::nearbyint((scaled_height - height) / 2.0));
  const auto left = static_cast<int64_t>(std::nearbyint((scaled_width - width) / 2.0));
  torch::Tensor fitted;
  if (scaled_height == image.height && scaled_width == image.width) {
    fitted = torch::from_blob(const_cast<uint8_t*>(pixels.data),
                              {pixels.height, pixels.width, pixels.channels}, torch::kUInt8)
                 .narrow(0, top, height)
                 .narrow(1, left, width)
                 .permute({2, 0, 1})
                 .clone(torch::MemoryFormat::Contiguous);  // never a view of the image's bytes
  } else {
    fitted = scale_window(pixels, scaled_height, scaled_width, top, left, height, width);
  }
  return fitted.size(0) == channels ? fitted
                                    : fitted.expand({channels, height, width}).contiguous();
}

std::unique_ptr<Dataset> load_image_folder(const std::string& dir,
                                           const std::vector<int64_t>& image) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw DataError("'" + dir +
                    "': " + (fs::exists(dir, error) ? "not a folder" : "no such folder") +
                    "; expected an image folder (one subfolder per class, as torchvision's "
                    "ImageFolder)");
  }
  Taken taken;
  const auto classes = class_names(dir, taken);
  std::vector<std::string> paths;
  std::vector<int64_t> labels;
  for (size_t c = 0; c < classes.size(); ++c) {
    const auto folder = fs::path(dir) / classes[c];
    const auto found = images_in(folder, taken);
    if (found.empty()) {
      throw DataError("class '" + classes[c] + "' (" + folder.string() +
                      ") has no PNG or JPEG images (.png, .jpg, .jpeg); expected at least one");
    }
    paths.insert(paths.end(), found.begin(), found.end());
    labels.insert(labels.end(), found.size(), static_cast<int64_t>(c));
  }
  if (taken.left_out > 0) {
    std::fprintf(stderr,
                 "image folder '%s': left out %lld link%s to a folder or image taken already "
                 "(%s'%s'); each real folder and image is taken once\n",
                 dir.c_str(), static_cast<long long>(taken.left_out),
                 taken.left_out == 1 ? "" : "s",
                 taken.left_out == 1 ? "" : "the first: ", taken.first_left_out.c_str());
  }
  std::vector<int64_t> shape = image;
  if (shape.empty()) {
    const auto first = read_image(paths.front(), true);
    shape = {first.channels, first.height, first.width};
  }
  if (shape.size() != 3 || (shape[0] != 1 && shape[0] != 3) || shape[1] < 1 || shape[2] < 1) {
    throw DataError("image folder '" + dir +
                    "': expected a sample shape of C,H,W with C 1 (gray) or 3 (RGB), got " +
                    join_sizes(shape));
  }
  auto name = fs::path(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::path(dir).lexically_normal().parent_path().filename().string();
  return std::make_unique<Dataset>(name, std::make_shared<ImageFiles>(std::move(paths), shape),
                                   shape, torch::tensor(labels, torch::kLong),
                                   static_cast<int64_t>(classes.size()));
}

}  // namespace replicascope::data
