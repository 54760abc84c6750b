// SPDX-License-Identifier: MIT
#include "replicascope/parallel/copy_runner.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <c10/core/DeviceGuard.h>

#include <algorithm>
#include <string>

#include "copy_workers.h"
#include "replicascope/base/describe_error.h"
#include "replicascope/sync/sync_error.h"

namespace replicascope {
namespace {

bool is_sync_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const sync::SyncError&) {
    return true;
  } catch (...) {
    return false;
  }
}

std::string summarize(const std::vector<std::exception_ptr>& errors) {
  size_t failed = 0;
  for (const auto& e : errors) failed += e != nullptr;
  std::string out =
      std::to_string(failed) + " of " + std::to_string(errors.size()) + " copies failed";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (errors[i]) out += "\n  copy " + std::to_string(i) + ": " + describe(errors[i]);
  }
  return out;
}

}  // namespace

CopiesFailed::CopiesFailed(std::vector<std::exception_ptr> errors)
    : std::runtime_error(summarize(errors)), errors_(std::move(errors)) {}

std::exception_ptr CopiesFailed::root_cause() const {
  std::exception_ptr first;
  for (const auto& error : errors_) {
    if (!error) continue;
    if (!is_sync_error(error)) return error;
    if (!first) first = error;
  }
  return first;
}

std::vector<torch::Tensor> run_copy_steps(
    const std::vector<torch::Device>& devices, const std::function<torch::Tensor(size_t)>& forward,
    const std::function<void(size_t, std::exception_ptr)>& end_step) {
  std::vector<torch::Tensor> outputs(devices.size());
  run_copies(devices, [&](size_t i) {
    try {
      outputs[i] = forward(i);
    } catch (...) {
      end_step(i, std::current_exception());
      throw;
    }
    end_step(i, nullptr);
  });
  return outputs;
}

void run_copies(const std::vector<torch::Device>& devices,
                const std::function<void(size_t copy)>& work) {
  const size_t n = devices.size();
  std::vector<std::exception_ptr> errors(n);
  const at::ThreadLocalState caller_state;  // grad mode, inference mode, dispatch keys
#if AT_PARALLEL_OPENMP
  // The caller's intra-op threads are shared out among the copies (at least one each), so N
  // copies use the cores the caller would have used, not N times as many. With OpenMP the
  // setting is per thread; the caller's own is restored below, for the rest of its work.
  const int caller_threads = at::get_num_threads();
  const int copy_threads = std::max(1, caller_threads / static_cast<int>(std::max<size_t>(n, 1)));
#endif
  auto run = [&](size_t i) {
    try {
#if AT_PARALLEL_OPENMP
      if (i != 0 || copy_threads != caller_threads) at::set_num_threads(copy_threads);
#else
      // As ATen's own worker threads do: give this thread ATen's intra-op thread setting.
      if (i != 0) at::init_num_threads();
#endif
      at::ThreadLocalStateGuard state_guard(caller_state);
      c10::OptionalDeviceGuard device_guard;
      if (!devices[i].is_cpu()) device_guard.reset_device(devices[i]);
      work(i);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  };
  // Copies 1.. on kept threads (copy_workers.h), copy 0 on the caller's.
  auto& pool = detail::CopyWorkers::instance();
  const auto workers = pool.lease(n > 0 ? n - 1 : 0);
  detail::Latch finished(workers.size());
  for (size_t i = 1; i < n; ++i) {
    workers[i - 1]->post([&, i] {
      run(i);
      finished.count_down();
    });
  }
  run(0);
  finished.wait();
  pool.give_back(workers);
#if AT_PARALLEL_OPENMP
  if (copy_threads != caller_threads) at::set_num_threads(caller_threads);
#endif
  for (const auto& error : errors) {
    if (error) throw CopiesFailed(std::move(errors));
  }
}

}  // namespace replicascope
