// SPDX-License-Identifier: MIT
#include "replicascope/base/usage.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace replicascope {

int64_t parse_whole_number(const std::string& name, const std::string& text, int64_t min,
                           int64_t max) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || value < min || value > max) {
    throw UsageError(name + " expects a whole number from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", got '" + text + "'");
  }
  return value;
}

double parse_number(const std::string& name, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0')
    throw UsageError(name + " expects a number, got '" + text + "'");
  return value;
}

void require_finite_non_negative(const std::string& name, double value) {
  if (std::isfinite(value) && value >= 0) return;
  std::ostringstream out;
  out.precision(17);
  out << name << " expects a finite number of at least 0, got " << value;
  throw UsageError(out.str());
}

double parse_seconds(const std::string& name, const std::string& text, double max_seconds) {
  const double value = parse_number(name, text);
  if (!(value > 0) || !(value <= max_seconds)) {
    std::ostringstream out;
    out << name << " expects seconds, more than 0 and at most " << max_seconds << ", got '" << text
        << "'";
    throw UsageError(out.str());
  }
  return value;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

std::string join_sizes(const std::vector<int64_t>& sizes, const char* separator) {
  std::string out;
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? separator : "") + std::to_string(sizes[i]);
  return out;
}

std::vector<int64_t> parse_sizes(const std::string& name, const std::string& text,
                                 const std::string& example) {
  std::vector<int64_t> sizes;
  for (const auto& item : split(text, ',')) {
    char* end = nullptr;
    errno = 0;
    const long long value = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno == ERANGE || value < 1) {
      throw UsageError(name + " expects positive whole numbers separated by commas (" + example +
                       ", say), got '" + text + "'");
    }
    sizes.push_back(value);
  }
  return sizes;
}

}  // namespace replicascope
