// An error's message for people, whatever threw it.
#pragma once

#include <exception>
#include <string>

namespace replicascope {

// what() without the C++ backtrace that LibTorch's errors append ("Exception raised from ...");
// "unknown exception" for anything that is not a std::exception.
std::string describe(const std::exception_ptr& error);

}  // namespace replicascope
