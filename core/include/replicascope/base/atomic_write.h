// SPDX-License-Identifier: MIT
// Files written whole or not at all.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace replicascope {

// Calls write(temporary) to write the file under a temporary name beside `path`, then renames it
// to `path`, so a reader never sees half a file and a failure leaves none. Throws
// std::runtime_error naming `path` and the reason (an unwritable folder, say) if writing or the
// rename fails, or rethrows write()'s own error with that context. A StoppedBySignal from write()
// (a loop that saw Ctrl-C) removes the temporary too and is rethrown as one, naming `path`.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string& temporary)>& write);

// write_atomically for text: write(out) fills the file through a stream, and a stream that
// failed (a full disk, say) is an error rather than a short file.
void write_text_atomically(const std::string& path,
                           const std::function<void(std::ostream& out)>& write);

}  // namespace replicascope
