// SPDX-License-Identifier: MIT
// Helpers shared by the LibTorch tests.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "replicascope/base/describe_error.h"
#include "replicascope/data/dataset.h"
#include "replicascope/engine/session.h"
#include "replicascope/sync/sync_error.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace replicascope::testing {

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined() ? 0.0 : INFINITY;
  if (a.numel() == 0 && b.numel() == 0) return 0.0;
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// max |a - e| / max(1, |e|): an absolute difference for values up to 1 in magnitude and a
// relative one above, since float32 cannot hold larger values to 1e-5 absolute.
inline double max_scaled_diff(const torch::Tensor& a, const torch::Tensor& e) {
  if (a.numel() == 0 && e.numel() == 0) return 0.0;
  const auto ed = e.to(torch::kDouble);
  return ((a.to(torch::kDouble) - ed).abs() / ed.abs().clamp_min(1.0)).max().item<double>();
}

// EXPECT that `actual` matches `expected`: same shape, and values within `tol` (absolute up to
// magnitude 1, relative above), naming `what`.
#define EXPECT_TENSOR_NEAR(actual, expected, tol, what)                                       \
  do {                                                                                        \
    const auto& a_ = (actual);                                                                \
    const auto& e_ = (expected);                                                              \
    ASSERT_EQ(a_.defined(), e_.defined()) << (what);                                          \
    if (a_.defined()) {                                                                       \
      ASSERT_EQ(a_.sizes(), e_.sizes()) << (what);                                            \
      EXPECT_LE(::replicascope::testing::max_scaled_diff(a_, e_), (tol))                      \
          << (what)                                                                           \
          << ": max |actual - expected| = " << ::replicascope::testing::max_abs_diff(a_, e_); \
    }                                                                                         \
  } while (0)

// A test that needs what a sanitized build (scripts/check.sh asan) does not make, `what`: the CLI
// or the scripted fixtures. It skips there, saying why; the main build runs it.
#ifdef REPLICASCOPE_SANITIZED_BUILD
#define SKIP_IN_SANITIZED_BUILD(what) \
  GTEST_SKIP() << "needs " << (what) << ", which the sanitized build does not make"
#else
#define SKIP_IN_SANITIZED_BUILD(what) static_cast<void>(what)
#endif

// A file written by tests/fixtures/make_models.py (the folder REPLICASCOPE_FIXTURES names).
inline std::string fixture(const std::string& file) {
  const char* dir = std::getenv("REPLICASCOPE_FIXTURES");
  return std::string(dir ? dir : "fixtures") + "/" + file;
}

inline std::vector<torch::Device> cpu_copies(int n) {
  return std::vector<torch::Device>(n, torch::Device(torch::kCPU));
}

// 256 synthetic 1x28x28 images of 10 classes, for the demo model's sessions.
inline std::shared_ptr<const data::Dataset> demo_data() {
  static std::shared_ptr<const data::Dataset> data = data::make_synthetic({1, 28, 28}, 10, 256, 1);
  return data;
}

// A session of `copies` CPU copies, batch 16, seed 7.
inline engine::SessionOptions options(int copies, bool synchronized) {
  engine::SessionOptions o;
  o.devices = cpu_copies(copies);
  o.batch_size = 16;
  o.synchronized = synchronized;
  o.seed = 7;
  return o;
}

// A new empty folder in the temporary directory, named after `name` and this process.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The message of an exception_ptr, without LibTorch's backtrace.
using ::replicascope::describe;

// Runs `body`, expecting it to throw E whose message contains `needle`.
template <class E, class F>
void expect_throw_containing(F&& body, const std::string& needle) {
  try {
    body();
    ADD_FAILURE() << "expected an exception containing '" << needle << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace replicascope::testing
