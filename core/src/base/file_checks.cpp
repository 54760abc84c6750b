// SPDX-License-Identifier: MIT
#include "replicascope/base/file_checks.h"

namespace replicascope {

std::string file_kind(const std::filesystem::file_status& status) {
  namespace fs = std::filesystem;
  switch (status.type()) {
    case fs::file_type::not_found:
    case fs::file_type::none:
      return "no such file";
    case fs::file_type::directory:
      return "a folder";
    case fs::file_type::fifo:
      return "a FIFO (named pipe)";
    case fs::file_type::character:
      return "a character device";
    case fs::file_type::block:
      return "a block device";
    case fs::file_type::socket:
      return "a socket";
    case fs::file_type::regular:
      return "a regular file";
    default:
      return "not a regular file";
  }
}

std::string not_a_regular_file(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (std::filesystem::is_regular_file(status)) return "";
  if (error && status.type() != std::filesystem::file_type::not_found) {
    return "cannot look at it (" + error.message() + ")";
  }
  return file_kind(status);
}

}  // namespace replicascope
