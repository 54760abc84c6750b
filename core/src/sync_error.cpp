#include "replicascope/sync/sync_error.h"

#include <atomic>

namespace replicascope::sync {
namespace {
std::atomic<int64_t> g_default_timeout_ms{5 * 60 * 1000};
}

std::string describe(const std::exception_ptr& error) {
  std::string what;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    return "unknown exception";
  }
  const auto backtrace = what.find("\nException raised from ");
  if (backtrace != std::string::npos) what.resize(backtrace);
  return what;
}

std::chrono::milliseconds default_timeout() {
  return std::chrono::milliseconds(g_default_timeout_ms.load());
}

void set_default_timeout(std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) throw std::invalid_argument("sync timeout must be positive");
  g_default_timeout_ms.store(timeout.count());
}

}  // namespace replicascope::sync
