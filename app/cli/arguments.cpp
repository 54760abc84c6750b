#include "cli/arguments.h"

#include <algorithm>
#include <cstdlib>

namespace replicascope::cli {

Arguments::Arguments(const std::vector<std::string>& args, const std::set<std::string>& options,
                     const std::set<std::string>& flags) {
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg.rfind("--", 0) != 0) {
      positional_.push_back(arg);
      continue;
    }
    auto name = arg.substr(2);
    std::string value;
    const auto eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) value = name.substr(eq + 1), name = name.substr(0, eq);
    if (flags.count(name) && !inline_value) {
      flags_.insert(name);
    } else if (options.count(name)) {
      if (!inline_value) {
        if (i + 1 >= args.size()) throw UsageError("option --" + name + " needs a value");
        value = args[++i];
      }
      values_[name] = value;
    } else {
      throw UsageError("unknown option --" + name);
    }
  }
}

std::string Arguments::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

int64_t Arguments::get_int(const std::string& name, int64_t fallback, int64_t min,
                           int64_t max) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  const long long value = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || value < min || value > max) {
    throw UsageError("--" + name + " expects a whole number from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", got '" + it->second + "'");
  }
  return value;
}

double Arguments::get_double(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  const double value = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0') {
    throw UsageError("--" + name + " expects a number, got '" + it->second + "'");
  }
  return value;
}

std::vector<int64_t> Arguments::get_sizes(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return {};
  std::vector<int64_t> sizes;
  size_t start = 0;
  while (start <= it->second.size()) {
    const size_t comma = std::min(it->second.find(',', start), it->second.size());
    const std::string item = it->second.substr(start, comma - start);
    char* end = nullptr;
    const long long value = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || value < 1) {
      throw UsageError("--" + name + " expects positive whole numbers separated by commas (" +
                       "B,C,H,W, say), got '" + it->second + "'");
    }
    sizes.push_back(value);
    start = comma + 1;
  }
  return sizes;
}

}  // namespace replicascope::cli
