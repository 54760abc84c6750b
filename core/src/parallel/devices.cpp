// SPDX-License-Identifier: MIT
#include "replicascope/parallel/devices.h"

#include <torch/cuda.h>

#include <cstdint>
#include <stdexcept>

namespace replicascope {
namespace {

[[noreturn]] void bad(const std::string& spec, const std::string& why) {
  throw std::invalid_argument("device list '" + spec + "': " + why +
                              " (expected cpu, cpu:N, cuda or cuda:I,J,...)");
}

constexpr int64_t kMaxCpuCopies = 1024;

// A whole number for `what` ("the number of CPU copies"), given as `text`: its value, or an error
// saying what was given (not a number, negative, past the most) and what was expected (`least`
// to `most`).
int64_t parse_count(const std::string& spec, const std::string& text, const std::string& what,
                    int64_t least, int64_t most) {
  const bool negative = !text.empty() && text[0] == '-';
  if (text.size() == size_t{negative} ||
      text.find_first_not_of("0123456789", negative ? 1 : 0) != std::string::npos) {
    bad(spec, "'" + text + "' is not a whole number");
  }
  // The list's own form is said after (bad): "expected" once.
  const auto expected =
      "; " + what + " must be " + std::to_string(least) + " to " + std::to_string(most);
  if (negative) bad(spec, "'" + text + "' is negative" + expected);
  // 18 digits fit in int64; more are past any most.
  const int64_t value = text.size() > 18 ? INT64_MAX : std::stoll(text);
  if (value > most) bad(spec, "'" + text + "' is past the most" + expected);
  if (value < least) bad(spec, "'" + text + "' is too few" + expected);
  return value;
}

}  // namespace

std::vector<torch::Device> parse_devices(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  std::vector<torch::Device> devices;
  if (kind == "cpu") {
    const int64_t copies =
        colon == std::string::npos
            ? 1
            : parse_count(spec, rest, "the number of CPU copies", 1, kMaxCpuCopies);
    devices.assign(copies, torch::Device(torch::kCPU));
    return devices;
  }
  if (kind != "cuda") bad(spec, "unknown device kind '" + kind + "'");
  const int64_t available = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  if (available == 0) bad(spec, "this LibTorch has no CUDA, or no CUDA device is visible");
  if (colon == std::string::npos) {
    for (int64_t i = 0; i < available; ++i) devices.emplace_back(torch::kCUDA, i);
    return devices;
  }
  size_t start = 0;
  while (start <= rest.size()) {
    const auto comma = rest.find(',', start);
    const auto item =
        rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const int64_t index =
        parse_count(spec, item, "a visible CUDA device's index", 0, available - 1);
    for (const auto& earlier : devices) {
      // The autograd engine has one worker thread per GPU: two copies' backwards there would
      // wait for each other at a synchronized layer on that one thread.
      if (earlier.index() == index) bad(spec, "cuda:" + item + " is listed twice");
    }
    devices.emplace_back(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return devices;
}

std::string format_devices(const std::vector<torch::Device>& devices) {
  bool all_cpu = !devices.empty(), all_cuda = !devices.empty();
  for (const auto& d : devices) {
    all_cpu = all_cpu && d.is_cpu();
    all_cuda = all_cuda && d.is_cuda() && d.has_index();
  }
  if (all_cpu) return devices.size() == 1 ? "cpu" : "cpu:" + std::to_string(devices.size());
  std::string out;
  for (const auto& d : devices) {
    out += out.empty() ? (all_cuda ? "cuda:" : "") : ",";
    out += all_cuda ? std::to_string(d.index()) : d.str();
  }
  return out;
}

}  // namespace replicascope
