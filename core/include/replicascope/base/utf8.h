// SPDX-License-Identifier: MIT
// Text as valid UTF-8, whatever bytes it came from (file names need not be UTF-8).
#pragma once

#include <string>
#include <string_view>

namespace replicascope {

// `text` with every byte that is not part of a valid UTF-8 sequence written as the four
// characters `\xHH` (lowercase hex), as Python's bytes.decode('utf-8', 'backslashreplace') does.
// Valid UTF-8 comes back unchanged. Run files (schema version 5), JSON and CSV keep text so.
std::string valid_utf8(std::string_view text);

}  // namespace replicascope
