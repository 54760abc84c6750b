// Image folders: finding the classes and their images as torchvision's ImageFolder does, and
// fitting each decoded image to the sample shape.
#include "replicascope/data/image_folder.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

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

// A class folder's images, in the order of torchvision's sorted(os.walk(...)) and sorted names.
std::vector<std::string> images_in(const fs::path& folder) {
  std::vector<std::pair<std::string, std::string>> found;  // parent folder, name
  std::error_code error;
  fs::recursive_directory_iterator it(folder, fs::directory_options::follow_directory_symlink,
                                      error),
      end;
  for (; !error && it != end; it.increment(error)) {
    // An entry that cannot be looked at (a dangling link) is no image: left out, as torchvision
    // leaves out what has no image extension. Only a folder that cannot be listed is an error.
    std::error_code entry;
    if (it->is_directory(entry) && is_hidden(it->path())) {
      it.disable_recursion_pending();
      continue;
    }
    if (is_image_name(it->path()) && it->is_regular_file(entry)) {
      found.emplace_back(it->path().parent_path().string(), it->path().filename().string());
    }
  }
  if (error) {
    throw DataError("'" + folder.string() + "': cannot list it (" + error.message() + ")");
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (const auto& [parent, name] : found) paths.push_back((fs::path(parent) / name).string());
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

}  // namespace

torch::Tensor fit_image(const Image& image, int64_t channels, int64_t height, int64_t width) {
  if (image.pixels.size() != static_cast<size_t>(image.height * image.width * image.channels)) {
    throw DataError("fit_image: expected an image's pixels, got only its header");
  }
  // A view of the image's bytes: what this returns must not be one (the image may go first).
  const auto pixels = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()),
                                       {image.height, image.width, image.channels}, torch::kUInt8)
                          .permute({2, 0, 1});
  const auto owned = [&pixels](torch::Tensor fitted) {
    fitted = fitted.contiguous();
    return fitted.is_alias_of(pixels) ? fitted.clone() : fitted;
  };
  torch::Tensor chw;
  if (channels == image.channels) {
    chw = pixels;
  } else if (channels == 3) {
    chw = pixels.expand({3, image.height, image.width});
  } else {
    // PIL's convert("L"): (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16.
    const auto wide = pixels.to(torch::kInt32);
    chw = (wide[0] * 19595 + wide[1] * 38470 + wide[2] * 7471 + 0x8000)
              .div(65536, "floor")
              .to(torch::kUInt8)
              .unsqueeze(0);
  }
  if (image.height == height && image.width == width) return owned(chw);
  // One factor for both sides, so that the image covers height x width without distortion: the
  // side that needs the larger factor gets its size, the other its size times that factor
  // truncated, as torchvision's Resize(size) gives the long side int(size * long / short).
  int64_t scaled_height = height, scaled_width = width;
  if (height * image.width >= width * image.height) {
    scaled_width = std::max(width, image.width * height / image.height);
  } else {
    scaled_height = std::max(height, image.height * width / image.width);
  }
  namespace F = torch::nn::functional;
  auto scaled = chw;
  if (scaled_height != image.height || scaled_width != image.width) {
    scaled = F::interpolate(chw.unsqueeze(0).to(torch::kFloat),
                            F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{scaled_height, scaled_width})
                                .mode(torch::kBilinear)
                                .align_corners(false)
                                .antialias(true))
                 .squeeze(0)
                 .round_()
                 .clamp_(0, 255)
                 .to(torch::kUInt8);
  }
  // torchvision's CenterCrop: int(round((size - crop) / 2)) from the top and left, Python's
  // round (a half to even, as nearbyint in the default rounding mode).
  const auto top = static_cast<int64_t>(std::nearbyint((scaled_height - height) / 2.0));
  const auto left = static_cast<int64_t>(std::nearbyint((scaled_width - width) / 2.0));
  return owned(scaled.narrow(1, top, height).narrow(2, left, width));
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
  std::vector<std::string> classes;
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
  std::vector<std::string> paths;
  std::vector<int64_t> labels;
  for (size_t c = 0; c < classes.size(); ++c) {
    const auto folder = fs::path(dir) / classes[c];
    const auto found = images_in(folder);
    if (found.empty()) {
      throw DataError("class '" + classes[c] + "' (" + folder.string() +
                      ") has no PNG or JPEG images (.png, .jpg, .jpeg); expected at least one");
    }
    paths.insert(paths.end(), found.begin(), found.end());
    labels.insert(labels.end(), found.size(), static_cast<int64_t>(c));
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
