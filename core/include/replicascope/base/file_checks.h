// SPDX-License-Identifier: MIT
// Checks on paths given by users, before anything opens them: opening a FIFO blocks until a
// writer comes, and renaming over a device node replaces it.
#pragma once

#include <filesystem>
#include <string>

namespace replicascope {

// What a non-regular file is, for messages: "a folder", "a FIFO (named pipe)", "a character
// device", "a block device", "a socket", "no such file".
std::string file_kind(const std::filesystem::file_status& status);

// Empty when `path` is a regular file (through symlinks); else what it is (file_kind).
std::string not_a_regular_file(const std::string& path);

}  // namespace replicascope
