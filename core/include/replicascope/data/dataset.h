// SPDX-License-Identifier: MIT
// Datasets for training sessions: images and integer labels, held in memory (read from IDX
// (MNIST, Fashion-MNIST) or CIFAR-10 binary files, or made up) or decoded from files as batches
// are taken (image folders, image_folder.h); and a shuffling batch loader.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace replicascope::data {

// A data file that cannot be used, with what was expected and what was found.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Batch {
  torch::Tensor images;  // float [B, C, H, W] (or [B, F], [B, C, L], [B, C, T, H, W])
  torch::Tensor labels;  // int64 [B]
};

// Samples that are read when a batch takes them (decoded image files), not held in memory.
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  // Writes sample `index` as bytes of the dataset's sample shape into `out`. Called from the
  // loader's thread, several samples at once; throws DataError naming the file it cannot read.
  virtual void read(int64_t index, uint8_t* out) const = 0;
};

// Images normalized to zero mean and unit variance over the whole set (one mean and std for all
// channels, computed at load), and their labels. The images stay as they were given (uint8 for
// files: a quarter of float's memory) and each batch is normalized when it is taken.
class Dataset {
 public:
  // The values are images / divisor (255 for bytes).
  Dataset(std::string name, torch::Tensor images, torch::Tensor labels, int64_t classes,
          double divisor = 1.0);
  // Byte samples of `sample_shape` read from `source` as batches take them; the values are
  // bytes / 255, their mean and std estimated from up to 512 samples spread over the set.
  Dataset(std::string name, std::shared_ptr<const SampleSource> source,
          std::vector<int64_t> sample_shape, torch::Tensor labels, int64_t classes);
  const std::string& name() const { return name_; }
  int64_t size() const { return labels_.size(0); }
  int64_t classes() const { return classes_; }
  std::vector<int64_t> sample_shape() const;  // C, H, W (or F, C, L or C, T, H, W)
  Batch get(const torch::Tensor& indices) const;
  double mean() const { return mean_; }  // of the values (images / divisor), before normalization
  double std() const { return std_; }
  // Bytes the samples take in memory (as stored: uint8 for files; 0 when read as taken).
  int64_t memory_bytes() const {
    return images_.defined() ? images_.numel() * images_.element_size() : 0;
  }
  // Whether taking a batch reads files (worth a loader thread ahead of the steps).
  bool reads_files() const { return source_ != nullptr; }

 private:
  void set_mean_and_std(const torch::Tensor& values);
  torch::Tensor read(const torch::Tensor& indices) const;  // the samples as stored
  std::string name_;
  torch::Tensor images_, labels_;
  std::shared_ptr<const SampleSource> source_;
  std::vector<int64_t> sample_shape_;
  int64_t classes_;
  double divisor_ = 1, mean_ = 0, std_ = 1;
};

// IDX files as MNIST and Fashion-MNIST ship them, gzipped or plain: images (magic 2051,
// [N, rows, cols] unsigned bytes) and labels (magic 2049, [N]). Throws DataError for a missing or
// unreadable file, a bad magic number, truncated data, counts that differ, labels out of 0..9.
std::unique_ptr<Dataset> load_idx(const std::string& images_path, const std::string& labels_path);

// CIFAR-10 binary batches (data_batch_N.bin, test_batch.bin): records of 1 label byte and
// 3x32x32 image bytes. Throws DataError for a missing file, a size that is not a whole number
// of records, or a label above 9.
std::unique_ptr<Dataset> load_cifar10(const std::vector<std::string>& paths);

// Images that carry their class: a fixed random pattern per class plus noise (seeded).
std::unique_ptr<Dataset> make_synthetic(const std::vector<int64_t>& sample_shape, int64_t classes,
                                        int64_t count, uint64_t seed);

// Where Debian's dataset-fashion-mnist installs the training set, if it is there.
struct IdxPaths {
  std::string images, labels;
};
std::optional<IdxPaths> installed_fashion_mnist();

class LoaderThread;

// Batches in a new random order every epoch (seeded: the same seed gives the same batches).
// The last batch of an epoch is dropped if it is short. For a dataset that reads files, a loader
// thread prepares the next `ahead` batches while the caller trains on this one (the same batches
// in the same order); a batch it could not read throws from next(), and the one after follows.
namespace testing {
// A fault for the findings' tests and bench/findings_rates.py (the test build's CLI sets it from
// REPLICASCOPE_SORT_BATCH_BY_LABEL): while on, every batch comes sorted by label, so each copy's
// share holds a few classes only, as when each rank reads its part of a class-sorted dataset.
void sort_batches_by_label(bool on);
}  // namespace testing

class BatchLoader {
 public:
  static constexpr int64_t kAheadWhenReading = 2;
  // `ahead`: -1 for kAheadWhenReading when the dataset reads files and 0 otherwise.
  BatchLoader(const Dataset& dataset, int64_t batch_size, uint64_t seed, int64_t ahead = -1);
  ~BatchLoader();
  Batch next();
  int64_t epoch() const { return served_epoch_; }  // of the last batch next() returned
  void reset();                                    // back to the first batch of epoch 0

 private:
  struct Planned {
    torch::Tensor indices;
    int64_t epoch;
  };
  struct Pending {
    int64_t epoch;
    std::future<Batch> batch;
  };
  Planned plan();  // the next batch's samples, in order
  void shuffle();
  void fill();  // keeps `ahead_` batches on the loader thread
  const Dataset& dataset_;
  int64_t batch_size_;
  uint64_t seed_;
  int64_t ahead_;
  int64_t epoch_ = 0, position_ = 0, served_epoch_ = 0;
  torch::Tensor order_;
  std::deque<Pending> pending_;
  std::unique_ptr<LoaderThread> thread_;
};

}  // namespace replicascope::data
