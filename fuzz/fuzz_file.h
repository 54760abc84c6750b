// SPDX-License-Identifier: MIT
// libFuzzer hands the targets bytes; the readers take paths. A FuzzFile is one file in a folder
// of this process (libFuzzer's -fork and -jobs run several), rewritten for every input. SQLite
// and the readers need a real path (SQLite resolves /proc/self/fd links and puts its -wal and
// -shm files beside the file), so a memfd would not do.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace replicascope::fuzz {

class FuzzFile {
 public:
  explicit FuzzFile(const std::string& name) {
    const char* base = std::getenv("REPLICASCOPE_FUZZ_TMP");
    namespace fs = std::filesystem;
    const fs::path root = base ? base : (fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp");
    dir_ = root / ("replicascope-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / name).string();
  }
  ~FuzzFile() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  FuzzFile(const FuzzFile&) = delete;
  FuzzFile& operator=(const FuzzFile&) = delete;

  // Replaces the file's contents with `size` bytes, and removes what a reader may have left
  // beside it for the previous input (SQLite's -wal and -shm), so that inputs do not interact.
  const std::string& write(const uint8_t* data, size_t size) {
    for (const char* suffix : {"-wal", "-shm", "-journal"}) std::remove((path_ + suffix).c_str());
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) std::abort();  // the harness, not the reader, failed
    return path_;
  }

 private:
  std::filesystem::path dir_;
  std::string path_;
};

}  // namespace replicascope::fuzz
