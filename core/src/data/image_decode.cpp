// SPDX-License-Identifier: MIT
// PNG (libpng's simplified API) and JPEG (libjpeg-turbo) decoding into bytes, with every failure
// a DataError that names the file.
// jpeglib.h uses size_t and FILE without including what declares them.
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <fstream>
#include <iterator>

#include "replicascope/base/file_checks.h"
#include "replicascope/data/dataset.h"
#include "replicascope/data/image_folder.h"

namespace replicascope::data {
namespace {

// A bigger image is a damaged header or not training data: 64 megapixels take 192 MB as RGB.
constexpr int64_t kMostPixels = int64_t{1} << 26;

DataError image_error(const std::string& path, const std::string& what) {
  return DataError("'" + path + "': " + what);
}

void check_size(const std::string& path, int64_t height, int64_t width) {
  if (height < 1 || width < 1 || height * width > kMostPixels) {
    throw image_error(path, "an image of " + std::to_string(width) + "x" + std::to_string(height) +
                                " pixels; expected 1 to 64 megapixels (a damaged header?)");
  }
}

std::vector<uint8_t> read_file(const std::string& path) {
  const auto kind = not_a_regular_file(path);
  if (!kind.empty()) throw image_error(path, kind + ", expected a PNG or JPEG image");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw image_error(path, std::string("cannot open it (") + std::strerror(errno) + ")");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) throw image_error(path, "cannot read it");
  return bytes;
}

Image read_png(const std::string& path, const std::vector<uint8_t>& bytes, bool header_only) {
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) {
    throw image_error(path, std::string("not a readable PNG (") + png.message + ")");
  }
  Image image;
  image.height = png.height;
  image.width = png.width;
  image.channels = (png.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
  if (header_only) {
    png_image_free(&png);
    return image;
  }
  try {
    check_size(path, image.height, image.width);
  } catch (...) {
    png_image_free(&png);
    throw;
  }
  // Its own channels in 8 bits, alpha kept here and dropped below (not composited). A 16-bit PNG
  // without colour-space chunks is taken as sRGB, as PIL takes it, not as linear light.
  png.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA;
  png.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
  const int64_t stored = PNG_IMAGE_PIXEL_CHANNELS(png.format);
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, pixels.data(), 0, nullptr)) {
    const std::string message = png.message;
    png_image_free(&png);
    throw image_error(path, "a damaged PNG (" + message + ")");
  }
  if (stored == image.channels) {
    image.pixels = std::move(pixels);
  } else {
    image.pixels.resize(static_cast<size_t>(image.height * image.width * image.channels));
    for (int64_t p = 0, n = image.height * image.width; p < n; ++p) {
      for (int64_t c = 0; c < image.channels; ++c) {
        image.pixels[p * image.channels + c] = pixels[p * stored + c];
      }
    }
  }
  return image;
}

// libjpeg reports errors by calling error_exit, which must not return: it jumps back to
// decode_jpeg's setjmp with the message kept.
struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

void jpeg_silence(j_common_ptr, int) {}  // warnings (a few bad bytes) are not failures

// Plain C on purpose: nothing here has a destructor for longjmp to skip. Returns false with
// errors->message set. `out` and `image` belong to the caller; `out` holds `*components` bytes a
// pixel: 4 for CMYK, which read_jpeg makes RGB.
bool decode_jpeg(const std::vector<uint8_t>& bytes, bool header_only, int64_t at_least_height,
                 int64_t at_least_width, JpegErrors* errors, Image* image,
                 std::vector<uint8_t>* out, int* components) {
  jpeg_decompress_struct info;
  info.err = jpeg_std_error(&errors->manager);
  errors->manager.error_exit = jpeg_fail;
  errors->manager.emit_message = jpeg_silence;
  if (setjmp(errors->jump)) {
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  image->channels = info.num_components == 1 ? 1 : 3;
  // CMYK and Adobe's YCCK: libjpeg gives CMYK only (no conversion to RGB).
  const bool cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
  info.out_color_space = image->channels == 1 ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
  image->height = info.image_height;
  image->width = info.image_width;
  if (!header_only && image->height * image->width <= kMostPixels) {
    // The smallest DCT scaling that still covers what is asked for.
    info.scale_num = 1;
    info.scale_denom = 1;
    for (unsigned denom : {8u, 4u, 2u}) {
      const auto scaled = [denom](int64_t size) { return (size + denom - 1) / denom; };
      if (at_least_height > 0 && at_least_width > 0 && scaled(image->height) >= at_least_height &&
          scaled(image->width) >= at_least_width) {
        info.scale_denom = denom;
        break;
      }
    }
    jpeg_start_decompress(&info);
    image->height = info.output_height;
    image->width = info.output_width;
    *components = info.output_components;
    const size_t row = static_cast<size_t>(info.output_width) * info.output_components;
    out->resize(row * info.output_height);
    while (info.output_scanline < info.output_height) {
      JSAMPROW rows[1] = {out->data() + row * info.output_scanline};
      jpeg_read_scanlines(&info, rows, 1);
    }
    jpeg_finish_decompress(&info);
  }
  jpeg_destroy_decompress(&info);
  return true;
}

// CMYK bytes as RGB, in place, as PIL reads a CMYK JPEG and converts it: the bytes taken as
// Adobe writes them, inverted (PIL's rawmode "CMYK;I", with or without Adobe's marker), then
// PIL's cmyk2rgb, R = 255 - K - round((255 - K) * C / 255) and so on for G (M) and B (Y).
void cmyk_to_rgb(std::vector<uint8_t>& pixels) {
  const size_t count = pixels.size() / 4;
  for (size_t p = 0; p < count; ++p) {
    const uint8_t* stored = &pixels[p * 4];  // inverted: 255 - C, 255 - M, 255 - Y, 255 - K
    const int white = stored[3];             // 255 - K
    int rgb[3];
    for (int c = 0; c < 3; ++c) {
      const int ink = (255 - stored[c]) * white + 128;  // PIL's MULDIV255: x / 255, rounded
      rgb[c] = white - (((ink >> 8) + ink) >> 8);
    }
    for (int c = 0; c < 3; ++c) pixels[p * 3 + c] = static_cast<uint8_t>(rgb[c]);
  }
  pixels.resize(count * 3);
}

Image read_jpeg(const std::string& path, const std::vector<uint8_t>& bytes, bool header_only,
                int64_t at_least_height, int64_t at_least_width) {
  JpegErrors errors{};
  Image image;
  std::vector<uint8_t> pixels;
  int components = 0;
  if (!decode_jpeg(bytes, header_only, at_least_height, at_least_width, &errors, &image, &pixels,
                   &components)) {
    throw image_error(path, std::string("a damaged or unsupported JPEG (") + errors.message + ")");
  }
  if (!header_only) {
    check_size(path, image.height, image.width);
    if (components == 4) cmyk_to_rgb(pixels);
    image.pixels = std::move(pixels);
  }
  return image;
}

}  // namespace

Image read_image(const std::string& path, bool header_only, int64_t at_least_height,
                 int64_t at_least_width) {
  const auto bytes = read_file(path);
  static const uint8_t kPng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0) {
    return read_png(path, bytes, header_only);
  }
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) {
    return read_jpeg(path, bytes, header_only, at_least_height, at_least_width);
  }
  throw image_error(path, bytes.empty() ? std::string("empty (0 bytes), expected a PNG or JPEG")
                                        : std::string("not a PNG or JPEG image (by its first "
                                                      "bytes)"));
}

}  // namespace replicascope::data
