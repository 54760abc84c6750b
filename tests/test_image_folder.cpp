// SPDX-License-Identifier: MIT
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

// The pixels of an ordinary scale and crop, pinned: what fitting gave when it scaled the whole
// image with LibTorch's F::interpolate and cropped (and torchvision's Resize(antialias=True) and
// CenterCrop give: each value below is at least 0.05 from a rounding tie, so no float detail
// moves it).
TEST_F(ImageFolder, FittingKeepsThePixelsOfScalingTheWholeImage) {
  const auto y = torch::arange(6).view({6, 1, 1}), x = torch::arange(9).view({1, 9, 1});
  const auto source = (y * 53 + x * 13 + torch::arange(3).view({1, 1, 3}) * 5)
                          .remainder(256)
                          .to(torch::kUInt8);  // 6x9 RGB
  testing::write_png((dir_ / "pattern.png").string(), source);
  const auto image = data::read_image((dir_ / "pattern.png").string());
  const auto values = [](const torch::Tensor& t) {
    const auto flat = t.to(torch::kLong).contiguous();
    return std::vector<int64_t>(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel());
  };
  // Shrunk by 1.5 to 4x6 and cropped from column 1.
  const auto small = data::fit_image(image, 3, 4, 4);
  EXPECT_EQ(values(small[0]), (std::vector<int64_t>{43, 62, 82, 101, 117, 136, 156, 175, 194, 184,
                                                    148, 166, 108, 95, 51, 70}));
  EXPECT_EQ(values(small[2]), (std::vector<int64_t>{53, 72, 92, 111, 127, 146, 166, 176, 194, 147,
                                                    158, 129, 108, 52, 61, 80}));
  EXPECT_EQ(values(data::fit_image(image, 1, 4, 4)),
            (std::vector<int64_t>{47, 66, 86, 105, 121, 140, 160, 178, 191, 155, 152, 165, 105, 62,
                                  55, 74}));
  // Grown by 5/3 to 10x15 and cropped from column 2: rows 6 and 7, across the pattern's wrap.
  const auto large = data::fit_image(image, 3, 10, 10);
  EXPECT_EQ(values(large[0].narrow(0, 6, 2)),
            (std::vector<int64_t>{193, 201, 209, 217, 183, 130, 138, 145, 153, 161,
                                  225, 233, 241, 248, 154, 8,   16,  24,  31,  39}));
  // And against F::interpolate itself on random images and shapes: its sums are float's, in an
  // order that depends on the CPU (fused multiply-adds or not), so a value a float's width from
  // a rounding tie may round the other way; nothing more.
  namespace F = torch::nn::functional;
  torch::manual_seed(7);
  int64_t pixels = 0, off_by_one = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const auto sizes = torch::randint(1, 48, {4}).to(torch::kLong);
    const int64_t h = sizes[0].item<int64_t>(), w = sizes[1].item<int64_t>();
    const int64_t out_h = sizes[2].item<int64_t>(), out_w = sizes[3].item<int64_t>();
    data::Image random{h, w, 3, {}};
    const auto bytes = torch::randint(256, {h, w, 3}, torch::kUInt8);
    random.pixels.assign(bytes.data_ptr<uint8_t>(), bytes.data_ptr<uint8_t>() + bytes.numel());
    int64_t scaled_h = out_h, scaled_w = out_w;
    if (out_h * w >= out_w * h) {
      scaled_w = std::max(out_w, w * out_h / h);
    } else {
      scaled_h = std::max(out_h, h * out_w / w);
    }
    const auto whole = F::interpolate(bytes.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat),
                                      F::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{scaled_h, scaled_w})
                                          .mode(torch::kBilinear)
                                          .align_corners(false)
                                          .antialias(true))
                           .squeeze(0)
                           .round()
                           .clamp(0, 255);
    const auto top = static_cast<int64_t>(std::nearbyint((scaled_h - out_h) / 2.0));
    const auto left = static_cast<int64_t>(std::nearbyint((scaled_w - out_w) / 2.0));
    const auto want = whole.narrow(1, top, out_h).narrow(2, left, out_w).to(torch::kInt);
    const auto got = data::fit_image(random, 3, out_h, out_w).to(torch::kInt);
    const auto difference = (got - want).abs();
    ASSERT_LE(difference.max().item<int>(), 1) << h << "x" << w << " to " << out_h << "x" << out_w;
    pixels += got.numel();
    off_by_one += difference.sum().item<int64_t>();
  }
  EXPECT_LE(off_by_one * 1000, pixels) << off_by_one << " of " << pixels;
}

// A 999,999 x 1 image (1 KB as a PNG) covers 224x224 scaled by 224: a strip of 224 x 223,999,776
// pixels (200 GB as float, what fitting used to make), of which the crop keeps the 224 columns
// around source pixel 499,999. Only those are computed. With that pixel 200 and the others 0,
// column j is 200 (1 - |j - 111.5| / 224) (bilinear between pixel centres), shifted as LibTorch's
// float arithmetic shifts it: the scale as a float is off by up to 6e-8 of itself, the centre
// near 500,000 is a 32nd of a pixel coarse: up to 0.05 of a pixel, 10 levels. The same standing.
TEST_F(ImageFolder, AWideOrTallImageIsFittedFromWhatTheCropKeeps) {
  auto strip = torch::zeros({1, 999999, 1}, torch::kUInt8);
  strip[0][499999][0] = 200;
  for (const bool tall : {false, true}) {
    const auto path = (dir_ / (tall ? "tall.png" : "wide.png")).string();
    testing::write_png(path, tall ? strip.transpose(0, 1) : strip);
    const auto image = data::read_image(path);
    for (const int64_t size : {28, 224}) {
      auto fitted = data::fit_image(image, 3, size, size);
      ASSERT_EQ(fitted.sizes(), (std::vector<int64_t>{3, size, size}));
      if (tall) fitted = fitted.transpose(1, 2);
      const auto j = torch::arange(size, torch::kDouble);
      const auto paper = (1 - (j - (size - 1) / 2.0).abs() / size) * 200;
      for (int64_t row = 0; row < size; row += size / 4) {
        const auto off = (fitted[1][row].to(torch::kDouble) - paper).abs().max().item<double>();
        EXPECT_LE(off, 10) << (tall ? "tall" : "wide") << " to " << size << ", row " << row;
      }
      EXPECT_TRUE(fitted[0].equal(fitted[2]));
    }
  }
}

// A link back up (a loop: each turn used to add the whole folder again, b's images labelled a),
// one into another class and a second name for an image: each real folder and image is taken
// once, under its own class, and how many links were left out is said.
TEST_F(ImageFolder, LinksAreFollowedOnceAndTheOnesLeftOutAreSaid) {
  const auto set = dir_ / "set";
  for (const std::string c : {"a", "b"}) {
    for (int i = 0; i < 4; ++i) {
      fs::create_directories(set / c);
      testing::write_png((set / c / (std::to_string(i) + ".png")).string(),
                         torch::full({2, 2, 1}, (c == "a" ? 10 : 100) + i, torch::kUInt8));
    }
  }
  fs::create_directory_symlink("..", set / "a" / "up");
  fs::create_directory_symlink("../b", set / "a" / "to_b");
  fs::create_symlink("0.png", set / "b" / "again.png");
  ::testing::internal::CaptureStderr();
  const auto dataset = data::load_image_folder(set.string(), {});
  const auto said = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(dataset->size(), 8);
  const auto batch = dataset->get(torch::arange(8, torch::kLong));
  const auto bytes = as_bytes(*dataset, batch.images);
  for (int s = 0; s < 8; ++s) {
    EXPECT_EQ(batch.labels[s].item<int64_t>(), s / 4) << s;
    EXPECT_EQ(bytes[s][0][0][0].item<double>(), (s < 4 ? 10 : 96) + s) << s;
  }
  EXPECT_NE(
      said.find("image folder '" + set.string() +
                "': left out 3 links to a folder or image taken already (the first: '" +
                (set / "a" / "to_b").string() + "'); each real folder and image is taken once"),
      std::string::npos)
      << said;
  // Two classes that are one folder are refused, naming both.
  fs::create_directory_symlink("a", set / "c");
  expect_throw_containing<DataError>(
      [&] { data::load_image_folder(set.string(), {}); },
      "class 'c' (" + (set / "c").string() + ") is the same folder as class 'a' (a link?)");
}

// CMYK JPEGs (plain, with or without Adobe's marker, and Adobe's YCCK) are made RGB as PIL's
// Image.open(...).convert("RGB") makes them: the bytes inverted (PIL assumes Adobe's convention
// in every CMYK JPEG), then R = 255 - K - round((255 - K) C / 255), and G and B from M and Y.
// Quadrants of stored (C, M, Y, K): (255, 255, 255, 255) white, (0, 255, 255, 255) cyan,
// (200, 100, 50, 180): 180 - round(180 * 55 / 255) = 141, 71, 35, and (10, 20, 30, 0) black.
// PIL 9.4 gives these values for these files (YCCK's cyan: 1, its colour conversion's rounding).
TEST_F(ImageFolder, CmykJpegsAreMadeRgbAsPilMakesThem) {
  const uint8_t quadrants[4][4] = {
      {255, 255, 255, 255}, {0, 255, 255, 255}, {200, 100, 50, 180}, {10, 20, 30, 0}};
  auto cmyk = torch::empty({32, 32, 4}, torch::kUInt8);
  for (int q = 0; q < 4; ++q) {
    cmyk.narrow(0, q / 2 * 16, 16)
        .narrow(1, q % 2 * 16, 16)
        .copy_(torch::tensor({quadrants[q][0], quadrants[q][1], quadrants[q][2], quadrants[q][3]},
                             torch::kUInt8));
  }
  struct Case {
    const char* name;
    J_COLOR_SPACE stored_as;
    bool adobe_marker;
    uint8_t cyan_red;
  };
  for (const auto& [name, stored_as, adobe_marker, cyan_red] :
       {Case{"adobe.jpg", JCS_CMYK, true, 0}, Case{"no_marker.jpg", JCS_CMYK, false, 0},
        Case{"ycck.jpg", JCS_YCCK, true, 1}}) {
    const auto path = (dir_ / name).string();
    testing::write_jpeg(path, cmyk, 100, stored_as, adobe_marker);
    const auto image = data::read_image(path);
    ASSERT_EQ(image.channels, 3) << name;
    const auto rgb = data::fit_image(image, 3, 32, 32);
    const auto at = [&rgb](int y, int x) {
      return std::vector<int>{rgb[0][y][x].item<int>(), rgb[1][y][x].item<int>(),
                              rgb[2][y][x].item<int>()};
    };
    EXPECT_EQ(at(4, 4), (std::vector<int>{255, 255, 255})) << name;
    EXPECT_EQ(at(4, 20), (std::vector<int>{cyan_red, 255, 255})) << name;
    EXPECT_EQ(at(20, 4), (std::vector<int>{141, 71, 35})) << name;
    EXPECT_EQ(at(20, 20), (std::vector<int>{0, 0, 0})) << name;
    EXPECT_EQ(data::fit_image(image, 1, 32, 32)[0][20][4].item<int>(), 88) << name;  // PIL's "L"
  }
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
