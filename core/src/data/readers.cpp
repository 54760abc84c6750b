// IDX and CIFAR-10 readers.
#include <torch/torch.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>

#include "replicascope/data/dataset.h"

namespace replicascope::data {
namespace {

// The whole file, gunzipped when it is gzip (zlib reads plain files through unchanged).
std::vector<uint8_t> read_file(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    throw DataError("'" + path + "': no such file");
  }
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw DataError("'" + path + "': cannot open it");
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  for (;;) {
    const int n = gzread(file, chunk, sizeof(chunk));
    if (n < 0) {
      int code = 0;
      const std::string message = gzerror(file, &code);
      gzclose(file);
      throw DataError("'" + path + "': damaged compressed data (" + message + ")");
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  gzclose(file);
  return bytes;
}

uint32_t big_endian(const std::vector<uint8_t>& bytes, size_t offset) {
  return (uint32_t{bytes[offset]} << 24) | (uint32_t{bytes[offset + 1]} << 16) |
         (uint32_t{bytes[offset + 2]} << 8) | uint32_t{bytes[offset + 3]};
}

// The sizes in an IDX header, after checking the magic number and the data length.
std::vector<int64_t> idx_sizes(const std::vector<uint8_t>& bytes, const std::string& path,
                               uint32_t magic, size_t dims, const char* what) {
  if (bytes.size() < 4 + 4 * dims) {
    throw DataError("'" + path + "': " + std::to_string(bytes.size()) +
                    " bytes, too short for an IDX " + what + " header");
  }
  const uint32_t found = big_endian(bytes, 0);
  if (found != magic) {
    char message[160];
    std::snprintf(message, sizeof(message),
                  "bad magic number 0x%08x, expected 0x%08x (IDX %s, unsigned bytes, %zu "
                  "dimensions)",
                  found, magic, what, dims);
    throw DataError("'" + path + "': " + message);
  }
  std::vector<int64_t> sizes;
  size_t expected = 4 + 4 * dims;
  size_t elements = 1;
  for (size_t d = 0; d < dims; ++d) {
    sizes.push_back(big_endian(bytes, 4 + 4 * d));
    elements *= static_cast<size_t>(sizes.back());
  }
  expected += elements;
  if (bytes.size() < expected) {
    throw DataError("'" + path + "': truncated: the header promises " + std::to_string(elements) +
                    " values, the file holds " + std::to_string(bytes.size() - 4 - 4 * dims));
  }
  return sizes;
}

torch::Tensor bytes_tensor(const std::vector<uint8_t>& bytes, size_t offset,
                           std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<uint8_t*>(bytes.data() + offset), shape, torch::kUInt8)
      .clone();
}

void check_labels(const torch::Tensor& labels, int64_t classes, const std::string& path) {
  if (labels.numel() && labels.max().item<int64_t>() >= classes) {
    throw DataError("'" + path + "': a label of " + std::to_string(labels.max().item<int64_t>()) +
                    ", expected 0 to " + std::to_string(classes - 1));
  }
}

}  // namespace

std::unique_ptr<Dataset> load_idx(const std::string& images_path, const std::string& labels_path) {
  const auto image_bytes = read_file(images_path);
  const auto label_bytes = read_file(labels_path);
  const auto image_sizes = idx_sizes(image_bytes, images_path, 0x00000803, 3, "images");
  const auto label_sizes = idx_sizes(label_bytes, labels_path, 0x00000801, 1, "labels");
  if (image_sizes[0] != label_sizes[0]) {
    throw DataError("'" + images_path + "' holds " + std::to_string(image_sizes[0]) +
                    " images but '" + labels_path + "' " + std::to_string(label_sizes[0]) +
                    " labels; expected as many of each");
  }
  auto images = bytes_tensor(image_bytes, 16, {image_sizes[0], 1, image_sizes[1], image_sizes[2]});
  auto labels = bytes_tensor(label_bytes, 8, {label_sizes[0]}).to(torch::kLong);
  check_labels(labels, 10, labels_path);
  return std::make_unique<Dataset>(std::filesystem::path(images_path).filename().string(),
                                   images.to(torch::kFloat) / 255.0, labels, 10);
}

std::unique_ptr<Dataset> load_cifar10(const std::vector<std::string>& paths) {
  constexpr size_t kRecord = 1 + 3 * 32 * 32;
  if (paths.empty()) throw DataError("CIFAR-10: expected at least one batch file");
  std::vector<torch::Tensor> images, labels;
  for (const auto& path : paths) {
    const auto bytes = read_file(path);
    if (bytes.empty() || bytes.size() % kRecord != 0) {
      throw DataError("'" + path + "': " + std::to_string(bytes.size()) +
                      " bytes, expected a whole number of CIFAR-10 records of " +
                      std::to_string(kRecord) + " bytes (1 label, 3x32x32 image)");
    }
    const auto records = static_cast<int64_t>(bytes.size() / kRecord);
    auto all = bytes_tensor(bytes, 0, {records, static_cast<int64_t>(kRecord)});
    auto batch_labels = all.select(1, 0).to(torch::kLong);
    check_labels(batch_labels, 10, path);
    labels.push_back(batch_labels);
    images.push_back(all.narrow(1, 1, kRecord - 1).reshape({records, 3, 32, 32}));
  }
  return std::make_unique<Dataset>("cifar10", torch::cat(images).to(torch::kFloat) / 255.0,
                                   torch::cat(labels), 10);
}

}  // namespace replicascope::data
