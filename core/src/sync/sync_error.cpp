// SPDX-License-Identifier: MIT
#include "replicascope/sync/sync_error.h"

#include <atomic>

namespace replicascope::sync {
namespace {
std::atomic<int64_t> g_default_timeout_ms{5 * 60 * 1000};
}

std::chrono::milliseconds default_timeout() {
  return std::chrono::milliseconds(g_default_timeout_ms.load());
}

void set_default_timeout(std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) throw std::invalid_argument("sync timeout must be positive");
  g_default_timeout_ms.store(timeout.count());
}

}  // namespace replicascope::sync
