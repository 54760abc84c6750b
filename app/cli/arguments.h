// SPDX-License-Identifier: GPL-3.0-or-later
// A small command-line parser: --name value options, --flag switches and positional arguments,
// with clear errors for unknown options, missing values and malformed numbers.
#pragma once

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "replicascope/base/usage.h"

namespace replicascope::cli {

// Exits with status 2 and the command's usage (core's, so that its parsers' errors count too).
using replicascope::UsageError;

class Arguments {
 public:
  // `options` take a value, `flags` do not; anything else starting with -- is an error.
  Arguments(const std::vector<std::string>& args, const std::set<std::string>& options,
            const std::set<std::string>& flags);

  bool has(const std::string& name) const { return values_.count(name) || flags_.count(name); }
  std::string get(const std::string& name, const std::string& fallback) const;
  int64_t get_int(const std::string& name, int64_t fallback, int64_t min, int64_t max) const;
  double get_double(const std::string& name, double fallback) const;
  // A comma-separated list of positive whole numbers ("8,3,32,32"); empty if the option is absent.
  // A bad value's error shows `example`, the layout the option takes ("B,C,H,W").
  std::vector<int64_t> get_sizes(const std::string& name, const std::string& example) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // Every option and switch given, as ("--name", value) pairs ("" for switches), by name.
  std::vector<std::pair<std::string, std::string>> given() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [name, value] : values_) out.emplace_back("--" + name, value);
    for (const auto& name : flags_) out.emplace_back("--" + name, "");
    return out;
  }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positional_;
};

}  // namespace replicascope::cli
