#include "replicascope/usage.h"

#include <algorithm>
#include <cerrno>
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

std::vector<int64_t> parse_sizes(const std::string& name, const std::string& text) {
  std::vector<int64_t> sizes;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    errno = 0;
    const long long value = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno == ERANGE || value < 1) {
      throw UsageError(name + " expects positive whole numbers separated by commas (" +
                       "B,C,H,W, say), got '" + text + "'");
    }
    sizes.push_back(value);
    start = comma + 1;
  }
  return sizes;
}

}  // namespace replicascope
