#include "replicascope/parallel/devices.h"

#include <torch/cuda.h>

#include <stdexcept>

namespace replicascope {
namespace {

[[noreturn]] void bad(const std::string& spec, const std::string& why) {
  throw std::invalid_argument("device list '" + spec + "': " + why +
                              " (expected cpu, cpu:N, cuda or cuda:I,J,...)");
}

int64_t parse_count(const std::string& spec, const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 6) {
    bad(spec, "'" + text + "' is not a whole number");
  }
  return std::stoll(text);
}

}  // namespace

std::vector<torch::Device> parse_devices(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  std::vector<torch::Device> devices;
  if (kind == "cpu") {
    const int64_t copies = colon == std::string::npos ? 1 : parse_count(spec, rest);
    if (copies < 1 || copies > 1024) bad(spec, "the number of CPU copies must be 1 to 1024");
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
    const int64_t index = parse_count(spec, item);
    if (index >= available) {
      bad(spec, "cuda:" + item + " does not exist (" + std::to_string(available) +
                    " CUDA device(s) visible)");
    }
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
