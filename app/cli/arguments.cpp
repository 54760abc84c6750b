// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli/arguments.h"

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
  return it == values_.end() ? fallback : parse_whole_number("--" + name, it->second, min, max);
}

double Arguments::get_double(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : parse_number("--" + name, it->second);
}

std::vector<int64_t> Arguments::get_sizes(const std::string& name,
                                          const std::string& example) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<int64_t>{}
                             : parse_sizes("--" + name, it->second, example);
}

}  // namespace replicascope::cli
