#include "replicascope/describe_error.h"

#include <stdexcept>

namespace replicascope {

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

}  // namespace replicascope
