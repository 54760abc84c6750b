// SPDX-License-Identifier: MIT
// IDX and CIFAR-10 readers. Files are inflated straight into uint8 tensors, never further than
// their headers declare: a small gzip bomb cannot take the machine's memory.
#include <torch/torch.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "replicascope/base/file_checks.h"
#include "replicascope/data/dataset.h"

namespace replicascope::data {
namespace {

// deflate compresses by at most 1032:1; a header that promises more than this from the file's
// size cannot be true.
constexpr uint64_t kMostInflation = 1100;

// A data file, gunzipped when it is gzip (zlib reads plain files through unchanged), read in
// pieces so that each reader can check a header before it allocates for the rest.
class DataFile {
 public:
  explicit DataFile(const std::string& path) : path_(path) {
    const auto kind = not_a_regular_file(path);
    if (!kind.empty()) {
      throw DataError("'" + path + "': " + kind + ", expected a data file (IDX or CIFAR-10)");
    }
    std::error_code error;
    size_ = std::filesystem::file_size(path, error);
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw DataError("'" + path + "': cannot open it (" + std::strerror(errno) + ")");
  }
  ~DataFile() { gzclose(file_); }
  DataFile(const DataFile&) = delete;
  DataFile& operator=(const DataFile&) = delete;

  // Reads up to `bytes` into `out`; returns how many there were.
  uint64_t read(uint8_t* out, uint64_t bytes) {
    uint64_t done = 0;
    while (done < bytes) {
      const auto piece = static_cast<unsigned>(std::min<uint64_t>(bytes - done, 1u << 30));
      const int n = gzread(file_, out + done, piece);
      if (n < 0) {
        int code = 0;
        const std::string message = gzerror(file_, &code);
        throw DataError("'" + path_ + "': damaged compressed data (" + message + ")");
      }
      if (n == 0) break;
      done += static_cast<uint64_t>(n);
    }
    return done;
  }
  // The most bytes the file can hold once inflated.
  uint64_t most_bytes() const { return gzdirect(file_) ? size_ : size_ * kMostInflation; }
  bool compressed() const { return !gzdirect(file_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  uint64_t size_ = 0;
  gzFile file_ = nullptr;
};

uint32_t big_endian(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

// An IDX file's values as a uint8 tensor of the header's sizes, after checking the magic number,
// that the sizes are possible for the file, and that the data is all there.
torch::Tensor read_idx(const std::string& path, uint32_t magic, size_t dims, const char* what) {
  DataFile file(path);
  uint8_t header[4 + 4 * 3];
  const uint64_t header_bytes = 4 + 4 * dims;
  const auto got = file.read(header, header_bytes);
  if (got < header_bytes) {
    throw DataError("'" + path + "': " + std::to_string(got) + " bytes, too short for an IDX " +
                    what + " header");
  }
  const uint32_t found = big_endian(header);
  if (found != magic) {
    char message[160];
    std::snprintf(message, sizeof(message),
                  "bad magic number 0x%08x, expected 0x%08x (IDX %s, unsigned bytes, %zu "
                  "dimensions)",
                  found, magic, what, dims);
    throw DataError("'" + path + "': " + message);
  }
  std::vector<int64_t> sizes;
  uint64_t elements = 1;
  std::string shape;
  for (size_t d = 0; d < dims; ++d) {
    sizes.push_back(big_endian(header + 4 + 4 * d));
    shape += (d ? "x" : "") + std::to_string(sizes.back());
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(sizes.back()), &elements)) {
      elements = UINT64_MAX;
    }
  }
  if (elements > file.most_bytes()) {
    throw DataError(
        "'" + path + "': the header declares " + shape + " = " +
        (elements == UINT64_MAX ? std::string("more than 2^64") : std::to_string(elements)) +
        " values, more than the file can hold (" +
        (file.compressed() ? "compressed, at most " : "") + std::to_string(file.most_bytes()) +
        " bytes); a damaged IDX file?");
  }
  // A size of 0 makes the tensor empty whatever the others are, and an empty one with sizes near
  // 2^32 overflows LibTorch's stride arithmetic (the fuzzer found 0x4294967295x4294967085).
  if (elements == 0) {
    throw DataError("'" + path + "': the header declares " + shape +
                    " = 0 values; expected at least one " +
                    (dims == 1 ? "label" : "image of at least 1x1 pixels"));
  }
  auto values = torch::empty(sizes, torch::kUInt8);
  const auto read = file.read(values.data_ptr<uint8_t>(), elements);
  if (read < elements) {
    throw DataError("'" + path + "': truncated: the header promises " + std::to_string(elements) +
                    " values, the file holds " + std::to_string(read));
  }
  return values;
}

void check_labels(const torch::Tensor& labels, int64_t classes, const std::string& path) {
  if (labels.numel() && labels.max().item<int64_t>() >= classes) {
    throw DataError("'" + path + "': a label of " + std::to_string(labels.max().item<int64_t>()) +
                    ", expected 0 to " + std::to_string(classes - 1));
  }
}

}  // namespace

std::unique_ptr<Dataset> load_idx(const std::string& images_path, const std::string& labels_path) {
  auto images = read_idx(images_path, 0x00000803, 3, "images");
  auto labels = read_idx(labels_path, 0x00000801, 1, "labels");
  if (images.size(0) != labels.size(0)) {
    throw DataError("'" + images_path + "' holds " + std::to_string(images.size(0)) +
                    " images but '" + labels_path + "' " + std::to_string(labels.size(0)) +
                    " labels; expected as many of each");
  }
  check_labels(labels, 10, labels_path);
  return std::make_unique<Dataset>(std::filesystem::path(images_path).filename().string(),
                                   images.unsqueeze(1), labels.to(torch::kLong), 10, 255.0);
}

std::unique_ptr<Dataset> load_cifar10(const std::vector<std::string>& paths) {
  constexpr uint64_t kRecord = 1 + 3 * 32 * 32;
  if (paths.empty()) throw DataError("CIFAR-10: expected at least one batch file");
  std::vector<torch::Tensor> images, labels;
  for (const auto& path : paths) {
    DataFile file(path);
    // A CIFAR-10 batch has no header: read it whole, up to what the file can hold.
    std::vector<uint8_t> bytes;
    uint8_t chunk[1 << 16];
    for (uint64_t n; (n = file.read(chunk, sizeof(chunk))) > 0;) {
      bytes.insert(bytes.end(), chunk, chunk + n);
      if (bytes.size() > file.most_bytes()) {
        throw DataError("'" + path + "': inflates to more than " +
                        std::to_string(file.most_bytes()) + " bytes; a damaged file?");
      }
    }
    if (bytes.empty() || bytes.size() % kRecord != 0) {
      throw DataError("'" + path + "': " + std::to_string(bytes.size()) +
                      " bytes, expected a whole number of CIFAR-10 records of " +
                      std::to_string(kRecord) + " bytes (1 label, 3x32x32 image)");
    }
    const auto records = static_cast<int64_t>(bytes.size() / kRecord);
    auto all =
        torch::from_blob(bytes.data(), {records, static_cast<int64_t>(kRecord)}, torch::kUInt8);
    auto batch_labels = all.select(1, 0).to(torch::kLong);
    check_labels(batch_labels, 10, path);
    labels.push_back(batch_labels);
    images.push_back(all.narrow(1, 1, kRecord - 1).reshape({records, 3, 32, 32}).clone());
  }
  return std::make_unique<Dataset>("cifar10", torch::cat(images), torch::cat(labels), 10, 255.0);
}

}  // namespace replicascope::data
