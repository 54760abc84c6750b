// SPDX-License-Identifier: MIT
// The image-folder loader against what training needs, measured side by side in one run:
//   decode   images per second one loader thread decodes and fits (PNG 28x28 gray as is; JPEG
//            252x252 RGB to 3x224x224, and the same to 3x32x32, where DCT scaling reads 1/8),
//            and for the 224 case libjpeg's decoding and the resize and crop apart,
//   step     samples per second the demo CNN trains (2 copies, batch 32) on the same 28x28
//            images, from the folder (decoded on the loader thread) and from memory (IDX),
//            and the ratio of the two step times (1.0: decoding costs the steps nothing).
//
// usage: replicascope_bench_image_folder [--images N] [--steps S]
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "bench_util.h"
#include "image_files.h"
#include "replicascope/base/allocator.h"
#include "replicascope/data/dataset.h"
#include "replicascope/data/image_folder.h"
#include "replicascope/engine/session_factory.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Images per second that dataset.get() gives, in batches of 32, once over the set.
double decode_rate(const replicascope::data::Dataset& data) {
  const auto start = Clock::now();
  for (int64_t first = 0; first < data.size(); first += 32) {
    data.get(torch::arange(first, std::min(first + 32, data.size()), torch::kLong));
  }
  return static_cast<double>(data.size()) / seconds_since(start);
}

// The median milliseconds per step of `steps` steps after 3 warm-up steps.
double step_ms(const replicascope::engine::SessionSpec& spec, int steps) {
  auto built = replicascope::engine::make_session(spec);
  for (int i = 0; i < 3; ++i) built.session->step();
  std::vector<double> times;
  for (int i = 0; i < steps; ++i) times.push_back(built.session->step().seconds * 1e3);
  return replicascope::bench::median(times);
}

// Fashion-MNIST's first `count` images as an IDX pair, for the in-memory side.
void write_idx(const fs::path& dir, const torch::Tensor& images,
               const std::vector<int64_t>& labels) {
  auto put32 = [](std::FILE* f, uint32_t v) {
    for (int shift : {24, 16, 8, 0}) std::fputc(static_cast<int>((v >> shift) & 0xff), f);
  };
  std::FILE* f = std::fopen((dir / "images.idx").c_str(), "wb");
  put32(f, 0x803);
  put32(f, static_cast<uint32_t>(images.size(0)));
  put32(f, 28);
  put32(f, 28);
  std::fwrite(images.contiguous().data_ptr<uint8_t>(), 1, static_cast<size_t>(images.numel()), f);
  std::fclose(f);
  f = std::fopen((dir / "labels.idx").c_str(), "wb");
  put32(f, 0x801);
  put32(f, static_cast<uint32_t>(labels.size()));
  for (auto label : labels) std::fputc(static_cast<int>(label), f);
  std::fclose(f);
}

// Near photographs' size: 252x252 RGB JPEGs (quality 95), a fashion image scaled up with noise,
// the first `count` of `pixels` in four class folders under dir/jpeg.
void write_jpegs(const fs::path& dir, const torch::Tensor& pixels, int64_t count) {
  namespace testing = replicascope::testing;
  torch::manual_seed(0);
  for (int64_t i = 0; i < count; ++i) {
    const auto big = pixels[i].repeat_interleave(9, 0).repeat_interleave(9, 1).narrow(0, 0, 252);
    auto rgb = (big.narrow(1, 0, 252).unsqueeze(2).expand({252, 252, 3}).to(torch::kInt) +
                torch::randint(-8, 8, {252, 252, 3}, torch::kInt))
                   .clamp(0, 255)
                   .to(torch::kUInt8);
    const auto folder = dir / "jpeg" / ("class" + std::to_string(i % 4));
    fs::create_directories(folder);
    testing::write_jpeg((folder / (std::to_string(i) + ".jpg")).string(), rgb);
  }
}

// The decode rates of dir/png and dir/jpeg, and where the 224 case's time goes.
void bench_decode(const fs::path& dir) {
  namespace data = replicascope::data;
  const auto png = data::load_image_folder((dir / "png").string(), {});
  const auto jpeg224 = data::load_image_folder((dir / "jpeg").string(), {3, 224, 224});
  const auto jpeg32 = data::load_image_folder((dir / "jpeg").string(), {3, 32, 32});
  std::printf("decode_png_28x28_per_s %.0f\n", decode_rate(*png));
  std::printf("decode_jpeg_252_to_224_per_s %.0f\n", decode_rate(*jpeg224));
  std::printf("decode_jpeg_252_to_32_per_s %.0f\n", decode_rate(*jpeg32));
  // Where the 224 case's time goes: libjpeg's decoding alone, then the resize and crop alone.
  std::vector<data::Image> decoded;
  auto start = Clock::now();
  for (const auto& entry : fs::recursive_directory_iterator(dir / "jpeg")) {
    if (entry.is_regular_file()) decoded.push_back(data::read_image(entry.path().string()));
  }
  const double decode_s = seconds_since(start);
  start = Clock::now();
  for (const auto& image : decoded) data::fit_image(image, 3, 224, 224);
  const double fit_s = seconds_since(start);
  std::printf("jpeg_252_libjpeg_only_per_s %.0f\njpeg_252_fit_to_224_only_per_s %.0f\n",
              static_cast<double>(decoded.size()) / decode_s,
              static_cast<double>(decoded.size()) / fit_s);
}

// The demo CNN's steps on dir/png (the folder) against dir's IDX pair (memory).
void bench_steps(const fs::path& dir, int steps) {
  replicascope::engine::SessionSpec spec;
  spec.devices = "cpu:2";
  spec.batch = 32;
  const auto folder = "imagefolder:" + (dir / "png").string();
  const auto memory = "idx:" + (dir / "images.idx").string() + "," + (dir / "labels.idx").string();
  // Each side twice, alternated, so that a noisy moment does not fall on one side only.
  double folder_ms = 0, memory_ms = 0;
  for (int round = 0; round < 2; ++round) {
    spec.data = folder;
    folder_ms += step_ms(spec, steps) / 2;
    spec.data = memory;
    memory_ms += step_ms(spec, steps) / 2;
  }
  std::printf("step_ms_folder %.2f\nstep_ms_memory %.2f\n", folder_ms, memory_ms);
  std::printf("steps_need_per_s %.0f\n", 32 * 1e3 / folder_ms);
  std::printf("folder_over_memory %.3f\n", folder_ms / memory_ms);
}

}  // namespace

int main(int argc, char** argv) {
  replicascope::keep_freed_memory_mapped();
  int64_t images = 2048;
  int steps = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--images") images = std::stoll(argv[i + 1]);
    if (flag == "--steps") steps = std::stoi(argv[i + 1]);
  }
  const auto dir =
      fs::temp_directory_path() / ("replicascope_bench_folder_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto [pixels, labels] = replicascope::testing::make_image_folder(dir / "png", images);
  write_jpegs(dir, pixels, std::min<int64_t>(images, 256));
  bench_decode(dir);

  write_idx(dir, pixels, labels);
  bench_steps(dir, steps);
  fs::remove_all(dir);
  return 0;
}
