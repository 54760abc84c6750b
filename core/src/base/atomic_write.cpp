// SPDX-License-Identifier: MIT
#include "replicascope/base/atomic_write.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "replicascope/base/describe_error.h"
#include "replicascope/base/file_checks.h"
#include "replicascope/base/stop_signals.h"

namespace replicascope {

void write_atomically(const std::string& path,
                      const std::function<void(const std::string& temporary)>& write) {
  namespace fs = std::filesystem;
  if (path.empty()) throw std::runtime_error("cannot write '': expected a file name");
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code error;
  // Renaming over anything but a regular file would replace it: a folder, a FIFO, or a device
  // node such as /dev/full (as root).
  const auto existing = fs::status(target, error);
  if (fs::exists(existing) && !fs::is_regular_file(existing)) {
    throw std::runtime_error("cannot write '" + path + "': it is " + file_kind(existing) +
                             "; expected a regular file or a new name");
  }
  if (!fs::is_directory(folder, error)) {
    throw std::runtime_error("cannot write '" + path + "': no folder '" + folder.string() + "'");
  }
  if (::access(folder.c_str(), W_OK) != 0) {
    throw std::runtime_error("cannot write '" + path + "': the folder '" + folder.string() +
                             "' is not writable");
  }
  const std::string temporary = path + ".partial-" + std::to_string(::getpid());
  try {
    write(temporary);
  } catch (const StoppedBySignal& stopped) {  // a loop inside write() saw SIGINT or SIGTERM
    fs::remove(temporary, error);
    throw StoppedBySignal(stopped.signal(),
                          "stopped while writing '" + path + "'; nothing was written there");
  } catch (...) {
    fs::remove(temporary, error);
    throw std::runtime_error("cannot write '" + path + "': " + describe(std::current_exception()));
  }
  fs::rename(temporary, target, error);
  if (error) {
    fs::remove(temporary, error);
    throw std::runtime_error("cannot write '" + path + "': " + error.message());
  }
}

void write_text_atomically(const std::string& path,
                           const std::function<void(std::ostream& out)>& write) {
  write_atomically(path, [&](const std::string& temporary) {
    std::ofstream out(temporary);
    write(out);
    out.flush();
    if (!out) throw std::runtime_error("write failed (disk full?)");
  });
}

}  // namespace replicascope
