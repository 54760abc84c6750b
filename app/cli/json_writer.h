// SPDX-License-Identifier: GPL-3.0-or-later
// A minimal JSON writer for the CLI's --json output: objects, arrays, strings, numbers, bools.
#pragma once

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "replicascope/base/utf8.h"

namespace replicascope::cli {

// Writes into its own buffer (str()), or straight to a stream, so that a large export streams.
class JsonWriter {
 public:
  JsonWriter() : out_(own_) {}
  explicit JsonWriter(std::ostream& out) : out_(out) { out_.precision(17); }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  JsonWriter& key(const std::string& name) {
    separate();
    quote(name);
    out_ << ':';
    after_key_ = true;
    return *this;
  }
  JsonWriter& value(const std::string& text) {
    separate();
    quote(text);
    return *this;
  }
  JsonWriter& value(const char* text) { return value(std::string(text)); }
  JsonWriter& value(int64_t number) {
    separate();
    out_ << number;
    return *this;
  }
  JsonWriter& value(double number) {
    separate();
    if (std::isfinite(number)) {
      out_.precision(17);
      out_ << number;
    } else {
      out_ << "null";  // JSON has no NaN or infinity
    }
    return *this;
  }
  JsonWriter& value(bool flag) {
    separate();
    out_ << (flag ? "true" : "false");
    return *this;
  }
  JsonWriter& null() {
    separate();
    out_ << "null";
    return *this;
  }
  JsonWriter& values(const std::vector<int64_t>& numbers) {
    begin_array();
    for (auto n : numbers) value(n);
    return end_array();
  }
  std::string str() const { return own_.str() + "\n"; }

 private:
  JsonWriter& open(char bracket) {
    separate();
    out_ << bracket;
    first_ = true;
    return *this;
  }
  JsonWriter& close(char bracket) {
    out_ << bracket;
    first_ = false;
    return *this;
  }
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_) out_ << ',';
    first_ = false;
  }
  // JSON is UTF-8: bytes that are not (a file name need not be) come out as `\xHH`, the
  // escape of valid_utf8 and of the run files.
  void quote(const std::string& text) {
    out_ << '"';
    for (unsigned char c : valid_utf8(text)) {
      switch (c) {
        case '"':
          out_ << "\\\"";
          break;
        case '\\':
          out_ << "\\\\";
          break;
        case '\n':
          out_ << "\\n";
          break;
        case '\t':
          out_ << "\\t";
          break;
        default:
          if (c < 0x20) {
            char buffer[8];
            std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
            out_ << buffer;
          } else {
            out_ << c;
          }
      }
    }
    out_ << '"';
  }

  std::ostringstream own_;
  std::ostream& out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace replicascope::cli
