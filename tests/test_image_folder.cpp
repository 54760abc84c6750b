// Image folders against their sources: PNGs decode to Fashion-MNIST's own bytes, JPEGs close to
// them, classes and order as torchvision's ImageFolder, fitting by scale and centre crop, and
// every bad folder or file a clear error that names it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "image_files.h"
#include "replicascope/data/dataset.h"
#include "replicascope/data/image_folder.h"
#include "replicascope/engine/session_factory.h"
#include "replicascope/engine/session_spec.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using replicascope::data::DataError;
using replicascope::testing::expect_throw_containing;
namespace data = replicascope::data;
namespace testing = replicascope::testing;

class ImageFolder : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::temp_dir("image_folder"); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// The dataset's samples as bytes again: batches are (x / 255 - mean) / std.
torch::Tensor as_bytes(const data::Dataset& dataset, const torch::Tensor& images) {
  return (images.to(torch::kDouble) * dataset.std() + dataset.mean()).mul(255).round();
}

TEST_F(ImageFolder, PngsAreFashionMnistsOwnBytesInTorchvisionsOrder) {
  const auto [images, labels] = testing::make_image_folder(dir_ / "train", 60);
  // A hidden folder and a file that is no image are left out, as a notes file would be.
  fs::create_directories(dir_ / "train" / ".ipynb_checkpoints");
  std::ofstream(dir_ / "train" / "bag" / "notes.txt") << "not an image";
  const auto dataset = data::load_image_folder((dir_ / "train").string(), {});
  EXPECT_EQ(dataset->name(), "train");
  EXPECT_EQ(dataset->sample_shape(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(dataset->size(), 60);
  EXPECT_TRUE(dataset->reads_files());
  // Classes in sorted order of their folders' names; samples by class, then by file name.
  std::vector<std::string> present;
  for (auto label : labels) present.push_back(testing::fashion_mnist_classes()[label]);
  std::sort(present.begin(), present.end());
  present.erase(std::unique(present.begin(), present.end()), present.end());
  EXPECT_EQ(dataset->classes(), static_cast<int64_t>(present.size()));
  const auto order = testing::folder_order(labels);
  const auto all = torch::arange(60, torch::kLong);
  const auto batch = dataset->get(all);
  const auto want = images.index_select(0, torch::tensor(order)).unsqueeze(1).to(torch::kDouble);
  const auto got = as_bytes(*dataset, batch.images);
  EXPECT_TRUE(got.equal(want)) << (got - want).abs().max().item<double>();
  for (size_t s = 0; s < order.size(); ++s) {
    const auto name = testing::fashion_mnist_classes()[labels[order[s]]];
    const auto c = std::find(present.begin(), present.end(), name) - present.begin();
    EXPECT_EQ(batch.labels[static_cast<int64_t>(s)].item<int64_t>(), c) << s;
  }
}

// torchvision's order is sorted(os.walk(class folder)), then sorted names: text order ("img10"
// before "img9"), a folder's own files before its subfolders', subfolders by name.
TEST_F(ImageFolder, OrderIsTorchvisionsTextOrderFolderByFolder) {
  const auto c = dir_ / "set" / "c";
  fs::create_directories(c / "sub");
  fs::create_directories(c / "a b");
  const std::pair<fs::path, int> files[] = {{c / "img9.png", 2},
                                            {c / "img10.png", 1},
                                            {c / "sub" / "a.png", 4},
                                            {c / "a b" / "x.png", 3}};
  for (const auto& [path, value] : files) {
    testing::write_png(path.string(), torch::full({2, 2, 1}, value * 10, torch::kUInt8));
  }
  fs::create_symlink(c / "missing.png", c / "dangling.png");  // no image: left out
  const auto dataset = data::load_image_folder((dir_ / "set").string(), {});
  ASSERT_EQ(dataset->size(), 4);
  const auto bytes = as_bytes(*dataset, dataset->get(torch::arange(4, torch::kLong)).images);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(bytes[i][0][0][0].item<double>(), (i + 1) * 10) << i;
}

TEST_F(ImageFolder, JpegsAndRgbAreConvertedToTheAskedChannels) {
  const auto [images, labels] = testing::make_image_folder(dir_ / "jpeg", 20, true, true);
  // RGB JPEGs of gray images, read as 1 channel by PIL's weights: close to the source (quality 95).
  const auto gray = data::load_image_folder((dir_ / "jpeg").string(), {1, 28, 28});
  const auto back = as_bytes(*gray, gray->get(torch::arange(20, torch::kLong)).images);
  const auto want = images.index_select(0, torch::tensor(testing::folder_order(labels)))
                        .unsqueeze(1)
                        .to(torch::kDouble);
  EXPECT_LT((back - want).abs().mean().item<double>(), 2.0);
  EXPECT_LT((back - want).abs().max().item<double>(), 40.0);
  // As 3 channels, each channel is the same gray.
  const auto rgb = data::load_image_folder((dir_ / "jpeg").string(), {3, 28, 28});
  const auto three = rgb->get(torch::arange(4, torch::kLong)).images;
  EXPECT_EQ(three.sizes(), (std::vector<int64_t>{4, 3, 28, 28}));
  EXPECT_LT((three[0][0] - three[0][2]).abs().max().item<double>() * rgb->std() * 255, 2.5);
  // Pure red as gray is PIL's 76: (255 * 19595 + 0x8000) >> 16.
  auto red = torch::zeros({2, 2, 3}, torch::kUInt8);
  red.select(2, 0).fill_(255);
  testing::write_png((dir_ / "red.png").string(), red);
  const auto image = data::read_image((dir_ / "red.png").string());
  EXPECT_EQ(image.channels, 3);
  EXPECT_EQ(data::fit_image(image, 1, 2, 2).flatten()[0].item<int>(), 76);
}

TEST_F(ImageFolder, FittingScalesToCoverAndCropsTheCentre) {
  torch::manual_seed(1);
  const auto source = torch::randint(256, {28, 40, 1}, torch::kUInt8);
  testing::write_png((dir_ / "wide.png").string(), source);
  const auto wide = data::read_image((dir_ / "wide.png").string());
  // 28x40 into 28x28 needs no scaling: the centre 28 columns, from column round(12 / 2) = 6.
  EXPECT_TRUE(data::fit_image(wide, 1, 28, 28)[0].equal(source.select(2, 0).narrow(1, 6, 28)));
  // Python's round, a half to even: 28x35 from column round(2.5) = 2, 28x33 from round(3.5) = 4.
  EXPECT_TRUE(data::fit_image(wide, 1, 28, 35)[0].equal(source.select(2, 0).narrow(1, 2, 35)));
  EXPECT_TRUE(data::fit_image(wide, 1, 28, 33)[0].equal(source.select(2, 0).narrow(1, 4, 33)));
  // Halving a linear ramp v = 4x + 2y keeps it linear: output pixel (i, j) is the ramp at the
  // centre of its 2x2 block, 4 (2j + 0.5) + 2 (2i + 0.5) = 8j + 4i + 3 (a symmetric filter is
  // exact on a line; the edges, where the filter is cut, are left out).
  const auto ramp = (torch::arange(28).unsqueeze(0) * 4 + torch::arange(28).unsqueeze(1) * 2)
                        .to(torch::kUInt8)
                        .unsqueeze(2)
                        .expand({28, 28, 3})
                        .contiguous();
  testing::write_png((dir_ / "ramp.png").string(), ramp);
  const auto halved = data::fit_image(data::read_image((dir_ / "ramp.png").string()), 3, 14, 14);
  const auto exact = (torch::arange(14).unsqueeze(0) * 8 + torch::arange(14).unsqueeze(1) * 4 + 3);
  const auto inner = [](const torch::Tensor& t) { return t.narrow(-2, 2, 10).narrow(-1, 2, 10); };
  EXPECT_LE((inner(halved[1]).to(torch::kInt) - inner(exact)).abs().max().item<int>(), 1);
  EXPECT_TRUE(halved[0].equal(halved[2]));  // gray stays gray
  // A JPEG 8 times too big is decoded at 1/8 (its DCT scaling) when that still covers the target.
  testing::write_jpeg((dir_ / "huge.jpg").string(), torch::full({256, 320, 3}, 90, torch::kUInt8));
  const auto draft = data::read_image((dir_ / "huge.jpg").string(), false, 32, 32);
  EXPECT_EQ(draft.height, 32);
  EXPECT_EQ(draft.width, 40);
  const auto fitted = data::fit_image(draft, 3, 32, 32);
  EXPECT_LE((fitted.to(torch::kInt) - 90).abs().max().item<int>(), 2);
}

TEST_F(ImageFolder, BadFoldersAndFilesAreClearErrors) {
  expect_throw_containing<DataError>(
      [&] { data::load_image_folder((dir_ / "missing").string(), {}); },
      "no such folder; expected an image folder (one subfolder per class");
  fs::create_directories(dir_ / "flat");
  testing::write_png((dir_ / "flat" / "a.png").string(), torch::zeros({4, 4, 1}, torch::kUInt8));
  expect_throw_containing<DataError>([&] { data::load_image_folder((dir_ / "flat").string(), {}); },
                                     "no class subfolders");
  fs::create_directories(dir_ / "flat" / "cats");
  fs::create_directories(dir_ / "flat" / "dogs");
  testing::write_png((dir_ / "flat" / "cats" / "a.png").string(),
                     torch::zeros({4, 4, 1}, torch::kUInt8));
  expect_throw_containing<DataError>([&] { data::load_image_folder((dir_ / "flat").string(), {}); },
                                     "class 'dogs' (");
  // Shapes an image folder cannot give.
  std::ofstream(dir_ / "flat" / "dogs" / "b.png") << "this is text, not a PNG";
  expect_throw_containing<DataError>(
      [&] {
        data::load_image_folder((dir_ / "flat").string(), {2, 4, 4});
      },
      "expected a sample shape of C,H,W with C 1 (gray) or 3 (RGB), got 2,4,4");
  // A file that is not an image, a damaged PNG and a truncated JPEG are named.
  const auto dogs = (dir_ / "flat" / "dogs").string();
  expect_throw_containing<DataError>([&] { data::load_image_folder((dir_ / "flat").string(), {}); },
                                     dogs + "/b.png': not a PNG or JPEG image");
  auto png = std::vector<char>(8 + 30, 0);
  const char magic[] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
  std::copy(magic, magic + 8, png.begin());
  std::ofstream(dir_ / "flat" / "dogs" / "b.png", std::ios::binary).write(png.data(), png.size());
  expect_throw_containing<DataError>([&] { data::load_image_folder((dir_ / "flat").string(), {}); },
                                     dogs + "/b.png': not a readable PNG");
  fs::remove(dir_ / "flat" / "dogs" / "b.png");
  testing::write_jpeg(dogs + "/c.jpg", torch::randint(256, {64, 64, 3}, torch::kUInt8));
  const auto size = fs::file_size(dogs + "/c.jpg");
  fs::resize_file(dogs + "/c.jpg", size / 2);
  // libjpeg pads a truncated scan with gray and warns; the header still has to be there.
  EXPECT_NO_THROW(data::read_image(dogs + "/c.jpg"));
  fs::resize_file(dogs + "/c.jpg", 20);
  expect_throw_containing<DataError>([&] { data::read_image(dogs + "/c.jpg"); },
                                     dogs + "/c.jpg': a damaged or unsupported JPEG (");
  std::ofstream(dogs + "/c.jpg", std::ios::trunc).flush();
  expect_throw_containing<DataError>([&] { data::read_image(dogs + "/c.jpg"); }, "empty (0 bytes)");
}

TEST_F(ImageFolder, TheSpecLoadsItAndASessionTrainsOnIt) {
  testing::make_image_folder(dir_ / "fmnist", 64, false, true);
  namespace engine = replicascope::engine;
  const auto spec_text = "imagefolder:" + (dir_ / "fmnist").string();
  const auto rgb = engine::load_data(spec_text, {3, 32, 32}, 0);
  EXPECT_EQ(rgb->sample_shape(), (std::vector<int64_t>{3, 32, 32}));
  expect_throw_containing<replicascope::UsageError>(
      [&] { engine::load_data(spec_text, {}, 0, 32, 5); }, "--classes applies to synthetic data");
  expect_throw_containing<replicascope::UsageError>(
      [&] { engine::load_data("imagefolder:", {}, 0); }, "expects imagefolder:DIR");
  // The demo CNN on the folder's own 1x28x28 (the RGB files made gray again), two copies.
  engine::SessionSpec spec;
  spec.data = spec_text;
  spec.image = {1, 28, 28};
  spec.devices = "cpu:2";
  spec.batch = 16;
  auto built = engine::make_session(spec);
  double first = 0, last = 0;
  for (int step = 0; step < 8; ++step) {
    const auto record = built.session->step();
    ASSERT_TRUE(std::isfinite(record.loss));
    (step == 0 ? first : last) = record.loss;
  }
  EXPECT_EQ(built.session->step().epoch, 2);  // 64 samples: 4 batches of 16 an epoch
  EXPECT_GT(first, 0);
  EXPECT_GT(last, 0);
}

}  // namespace
