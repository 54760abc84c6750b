// SPDX-License-Identifier: MIT
// Dataset readers against small hand-made files, each malformed case included, and the loader.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <zlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "replicascope/data/dataset.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using replicascope::data::DataError;
using replicascope::testing::expect_throw_containing;

class DataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("replicascope_data_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::vector<uint8_t>& bytes, bool gzip = false) {
    const auto path = (dir_ / name).string();
    if (gzip) {
      gzFile f = gzopen(path.c_str(), "wb");
      gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
      gzclose(f);
    } else {
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    return path;
  }
  static void put32(std::vector<uint8_t>& out, uint32_t v) {
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(v >> shift));
  }
  // n images of 2x3 with pixel values i*10 + k.
  static std::vector<uint8_t> idx_images(uint32_t n, uint32_t magic = 0x803, size_t drop = 0) {
    std::vector<uint8_t> out;
    put32(out, magic);
    put32(out, n);
    put32(out, 2);
    put32(out, 3);
    for (uint32_t i = 0; i < n; ++i)
      for (uint8_t k = 0; k < 6; ++k) out.push_back(static_cast<uint8_t>(i * 10 + k));
    out.resize(out.size() - drop);
    return out;
  }
  static std::vector<uint8_t> idx_labels(std::vector<uint8_t> labels, uint32_t magic = 0x801) {
    std::vector<uint8_t> out;
    put32(out, magic);
    put32(out, static_cast<uint32_t>(labels.size()));
    out.insert(out.end(), labels.begin(), labels.end());
    return out;
  }
  fs::path dir_;
};

TEST_F(DataFiles, IdxPlainAndGzippedGiveTheSameData) {
  const auto plain =
      replicascope::data::load_idx(write("i", idx_images(4)), write("l", idx_labels({3, 1, 4, 1})));
  const auto gz = replicascope::data::load_idx(write("i.gz", idx_images(4), true),
                                               write("l.gz", idx_labels({3, 1, 4, 1}), true));
  ASSERT_EQ(plain->size(), 4);
  EXPECT_EQ(plain->sample_shape(), (std::vector<int64_t>{1, 2, 3}));
  const auto a = plain->get(torch::arange(4)), b = gz->get(torch::arange(4));
  EXPECT_TRUE(a.images.equal(b.images));
  EXPECT_TRUE(a.labels.equal(torch::tensor({3, 1, 4, 1}, torch::kLong)));
  // Normalized over the set; values keep their order and spacing.
  EXPECT_NEAR(a.images.mean().item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(a.images.std().item<double>(), 1.0, 1e-5);
  EXPECT_NEAR(plain->mean(), (0 + 35) / 2.0 / 255.0, 1e-6);  // pixels 0..35 in steps of 1 or 5
}

TEST_F(DataFiles, IdxMalformedFilesAreClearErrors) {
  const auto labels = write("l", idx_labels({1, 2, 3}));
  expect_throw_containing<DataError>(
      [&] { replicascope::data::load_idx(write("i", idx_images(3, 0x0803 + 1)), labels); },
      "bad magic number 0x00000804, expected 0x00000803");
  expect_throw_containing<DataError>(
      [&] { replicascope::data::load_idx(write("i", idx_images(3, 0x803, 5)), labels); },
      "truncated: the header promises 18 values, the file holds 13");
  expect_throw_containing<DataError>(
      [&] { replicascope::data::load_idx(write("i", idx_images(2)), labels); },
      "holds 2 images but");
  expect_throw_containing<DataError>(
      [&] {
        replicascope::data::load_idx(write("i", idx_images(3)), write("l", idx_labels({1, 12, 3})));
      },
      "a label of 12, expected 0 to 9");
  expect_throw_containing<DataError>(
      [&] { replicascope::data::load_idx((dir_ / "missing").string(), labels); }, "no such file");
  expect_throw_containing<DataError>(
      [&] {
        replicascope::data::load_idx(write("i", {1, 2}), labels);
      },
      "too short");
  auto gz = idx_images(3);
  const auto path = write("broken.gz", gz, true);
  auto bytes = std::vector<char>(fs::file_size(path));
  std::ifstream(path, std::ios::binary).read(bytes.data(), bytes.size());
  bytes.resize(bytes.size() - 12);  // cut the gzip stream short
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
  EXPECT_THROW(replicascope::data::load_idx(path, labels), DataError);
}

TEST_F(DataFiles, Cifar10RecordsAndErrors) {
  std::vector<uint8_t> records;
  for (uint8_t label : {7, 2}) {
    records.push_back(label);
    for (int i = 0; i < 3 * 32 * 32; ++i) records.push_back(static_cast<uint8_t>(i % 251));
  }
  const auto data =
      replicascope::data::load_cifar10({write("b1.bin", records), write("b2.bin", records)});
  EXPECT_EQ(data->size(), 4);
  EXPECT_EQ(data->sample_shape(), (std::vector<int64_t>{3, 32, 32}));
  EXPECT_TRUE(data->get(torch::arange(4)).labels.equal(torch::tensor({7, 2, 7, 2}, torch::kLong)));
  const std::vector<uint8_t> short_file(records.begin(), records.end() - 1);
  expect_throw_containing<DataError>(
      [&] { replicascope::data::load_cifar10({write("s.bin", short_file)}); },
      "expected a whole number of CIFAR-10 records of 3073 bytes");
  records[0] = 10;
  expect_throw_containing<DataError>(
      [&] { replicascope::data::load_cifar10({write("l.bin", records)}); }, "a label of 10");
}

// The probe's cases: data that is a FIFO or a folder (a FIFO must not block the reader), a header
// that declares more than the file can hold (no allocation for it), and a gzip bomb that inflates
// far beyond its header (read no further than the header says).
TEST_F(DataFiles, NonRegularFilesAndImpossibleHeadersAreRefusedUpFront) {
  const auto labels = write("l", idx_labels({1, 2, 3}));
  const auto fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_throw_containing<DataError>([&] { replicascope::data::load_idx(fifo, labels); },
                                     "'" + fifo + "': a FIFO (named pipe), expected a data file");
  expect_throw_containing<DataError>([&] { replicascope::data::load_cifar10({dir_.string()}); },
                                     "a folder, expected a data file");
  std::vector<uint8_t> huge;
  for (uint32_t v : {0x803u, 0xffffffffu, 0xffffffffu, 0xffffffffu}) put32(huge, v);
  const auto huge_path = write("huge.gz", huge, true);
  expect_throw_containing<DataError>(
      [&] { replicascope::data::load_idx(huge_path, labels); },
      "'" + huge_path +
          "': the header declares 4294967295x4294967295x4294967295 = more than 2^64 values, more "
          "than the file can hold");
  std::vector<uint8_t> plain;
  for (uint32_t v : {0x803u, 1000u, 28u, 28u}) put32(plain, v);
  expect_throw_containing<DataError>(
      [&] { replicascope::data::load_idx(write("plain", plain), labels); },
      "the header declares 1000x28x28 = 784000 values, more than the file can hold (16 bytes)");
  // 3 images of 2x3 declared, then 8 MB of zeros behind them: only the 18 values are read.
  auto bomb = idx_images(3);
  bomb.resize(bomb.size() + (8 << 20), 0);
  const auto data = replicascope::data::load_idx(write("bomb.gz", bomb, true), labels);
  EXPECT_EQ(data->size(), 3);
  EXPECT_EQ(data->memory_bytes(), 3 * 6);  // kept as bytes, not floats
}

// Kept as uint8 and normalized per batch: the values are (x / 255 - mean) / std of the whole set,
// computed here in float64.
TEST_F(DataFiles, BatchesAreNormalizedFromTheStoredBytes) {
  const auto data = replicascope::data::load_idx(write("i", idx_images(5)),
                                                 write("l", idx_labels({0, 1, 2, 3, 4})));
  auto raw = idx_images(5);
  auto expected =
      torch::tensor(std::vector<double>(raw.begin() + 16, raw.end()), torch::kDouble) / 255.0;
  const double mean = expected.mean().item<double>(), std = expected.std().item<double>();
  EXPECT_NEAR(data->mean(), mean, 1e-12);
  EXPECT_NEAR(data->std(), std, 1e-12);
  const auto batch = data->get(torch::tensor({4, 0}, torch::kLong)).images;
  EXPECT_EQ(batch.scalar_type(), torch::kFloat);
  const auto want =
      ((expected.reshape({5, 1, 2, 3}).index_select(0, torch::tensor({4, 0})) - mean) / std)
          .to(torch::kFloat);
  EXPECT_TRUE(torch::allclose(batch, want, 1e-6, 1e-6));
}

TEST(BatchLoader, SameSeedSameBatchesNewOrderEachEpoch) {
  const auto data = replicascope::data::make_synthetic({1, 4, 4}, 3, 10, 5);
  replicascope::data::BatchLoader a(*data, 4, 9), b(*data, 4, 9), c(*data, 4, 10);
  const auto first = a.next();
  EXPECT_TRUE(first.images.equal(b.next().images));
  EXPECT_FALSE(first.images.equal(c.next().images));
  a.next();
  EXPECT_EQ(a.epoch(), 0);
  const auto third = a.next();  // 10 samples: two batches of 4, then a new epoch
  EXPECT_EQ(a.epoch(), 1);
  EXPECT_EQ(third.images.size(0), 4);
  a.reset();
  EXPECT_TRUE(a.next().images.equal(first.images));
  expect_throw_containing<DataError>([&] { replicascope::data::BatchLoader(*data, 11, 0); },
                                     "batch size 11: expected 1 to 10");
}

// Samples read as batches take them, counted, and failing on one index.
class CountingSource : public replicascope::data::SampleSource {
 public:
  void read(int64_t index, uint8_t* out) const override {
    ++reads;
    if (index == bad) throw DataError("sample " + std::to_string(index) + " cannot be read");
    for (int k = 0; k < 4; ++k) out[k] = static_cast<uint8_t>(index * 4 + k);
  }
  mutable std::atomic<int> reads{0};
  std::atomic<int64_t> bad{-1};  // read by the loader thread
};

// The loader thread ahead of the steps gives the same batches in the same order, epochs and
// reset included, as reading each batch when it is asked for.
TEST(BatchLoader, ReadingAheadGivesTheSameBatches) {
  auto source = std::make_shared<CountingSource>();
  const replicascope::data::Dataset data("counted", source, {1, 2, 2},
                                         torch::arange(10, torch::kLong) % 3, 3);
  EXPECT_TRUE(data.reads_files());
  EXPECT_EQ(source->reads.load(), 10);  // the mean and std come from up to 512 spread samples
  EXPECT_EQ(data.memory_bytes(), 0);
  replicascope::data::BatchLoader ahead(data, 4, 9), now(data, 4, 9, 0);
  for (int i = 0; i < 7; ++i) {
    if (i == 5) ahead.reset(), now.reset();
    const auto a = ahead.next(), b = now.next();
    EXPECT_TRUE(a.images.equal(b.images)) << i;
    EXPECT_TRUE(a.labels.equal(b.labels)) << i;
    EXPECT_EQ(ahead.epoch(), now.epoch()) << i;
  }
  // A batch that cannot be read throws from next(), and the one after it follows.
  source->bad.store(3);
  replicascope::data::BatchLoader failing(data, 5, 1), plain(data, 5, 1, 0);
  for (int i = 0; i < 4; ++i) {
    std::string ahead_error, plain_error;
    torch::Tensor a, b;
    try {
      a = failing.next().images;
    } catch (const DataError& e) {
      ahead_error = e.what();
    }
    try {
      b = plain.next().images;
    } catch (const DataError& e) {
      plain_error = e.what();
    }
    EXPECT_EQ(ahead_error, plain_error) << i;
    if (plain_error.empty()) {
      EXPECT_TRUE(a.equal(b)) << i;
    }
  }
}

TEST(Datasets, InstalledFashionMnistLoads) {
  const auto paths = replicascope::data::installed_fashion_mnist();
  if (!paths) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto data = replicascope::data::load_idx(paths->images, paths->labels);
  EXPECT_EQ(data->size(), 60000);
  EXPECT_EQ(data->sample_shape(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(data->classes(), 10);
}

}  // namespace
