// SPDX-License-Identifier: MIT
// An error's message for people, whatever threw it.
#pragma once

#include <exception>
#include <string>

namespace replicascope {

// what() without the C++ backtrace that LibTorch's errors append ("Exception raised from ..."),
// and a TorchScript interpreter error's two tracebacks condensed to the error and the innermost
// line of the model's code; "unknown exception" for anything that is not a std::exception.
std::string describe(const std::exception_ptr& error);

}  // namespace replicascope
