// SPDX-License-Identifier: MIT
// Values as users type them, and the error that says one cannot be used.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace replicascope {

// A value given by the user that cannot be used: a command line exits with status 2 for it.
// Says what was expected and what was given.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// `name` names the value in the message ("--batch"). Each throws UsageError.
int64_t parse_whole_number(const std::string& name, const std::string& text, int64_t min,
                           int64_t max);
double parse_number(const std::string& name, const std::string& text);
// Throws UsageError unless `value` (the value of `name`) is finite and at least 0 (a rate).
void require_finite_non_negative(const std::string& name, double value);
// Seconds, more than 0 and at most `max_seconds` (finite, so that they fit a duration).
double parse_seconds(const std::string& name, const std::string& text, double max_seconds);
// The pieces of `text` between separators, empty ones included ("a,,b" gives a, "", b; "" gives
// one empty piece).
std::vector<std::string> split(const std::string& text, char separator);
// "8,3,32,32": positive whole numbers separated by commas. A bad `text` is a UsageError that
// shows the value's own layout, `example` ("C,H,W" for --image, "B,C,H,W" for an input shape).
std::vector<int64_t> parse_sizes(const std::string& name, const std::string& text,
                                 const std::string& example);
// The other way: {8, 3, 32, 32} as "8,3,32,32" (or "8x3x32x32" with separator "x").
std::string join_sizes(const std::vector<int64_t>& sizes, const char* separator = ",");

}  // namespace replicascope
