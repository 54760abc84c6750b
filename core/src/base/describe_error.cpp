// SPDX-License-Identifier: MIT
#include "replicascope/base/describe_error.h"

#include <cctype>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace replicascope {
namespace {

std::string trimmed(const std::string& line) {
  const auto first = line.find_first_not_of(" \t");
  return first == std::string::npos ? "" : line.substr(first);
}

// "RuntimeError: ...", "torch.jit.Error: ...": a Python exception's name, then its message. (Not
// std::regex: GCC 12 warns inside it at -O1, the sanitizer builds' level.)
bool is_error_line(const std::string& line) {
  const auto colon = line.find(": ");
  if (colon == std::string::npos || colon == 0) return false;
  const auto name = line.substr(0, colon);
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (const char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  }
  auto ends_with = [&](const std::string& tail) {
    return name.size() >= tail.size() &&
           name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  return ends_with("Error") || ends_with("Exception");
}

// One TorchScript interpreter error (from its first line to its end), condensed.
std::string condensed_one(const std::string& error_text) {
  std::vector<std::string> lines;
  std::istringstream in(error_text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  size_t error = lines.size();
  for (size_t i = lines.size(); i-- > 0;) {
    if (is_error_line(lines[i])) {
      error = i;
      break;
    }
  }
  if (error == lines.size()) return error_text;
  std::string out;
  for (size_t i = error; i < lines.size(); ++i) {
    const auto text = trimmed(lines[i]);
    if (!text.empty()) out += (out.empty() ? "" : " ") + text;
  }
  for (size_t i = error; i-- > 0;) {
    const auto text = trimmed(lines[i]);
    if (text.rfind("File \"", 0) == 0) return out + " (at " + text + ")";
  }
  return out;
}

// A TorchScript interpreter error carries two tracebacks, the serialized and the original code,
// tens of lines each. What a person acts on is the error itself and the innermost line of their
// own code: "RuntimeError: ... (at File "model.py", line 12, in forward)". A message may quote
// several (one per failed copy, each after its "copy k: ").
std::string condensed(const std::string& what) {
  static const std::string kMarker =
      "The following operation failed in the TorchScript interpreter.";
  std::vector<size_t> starts;
  for (size_t at = what.find(kMarker); at != std::string::npos; at = what.find(kMarker, at + 1))
    starts.push_back(at);
  if (starts.empty()) return what;
  std::string out = what.substr(0, starts[0]);
  for (size_t k = 0; k < starts.size(); ++k) {
    if (k + 1 == starts.size()) return out + condensed_one(what.substr(starts[k]));
    auto segment = what.substr(starts[k], starts[k + 1] - starts[k]);
    // The next error's prefix ("  copy 1: ") shares the line its marker starts.
    const auto newline = segment.rfind('\n');
    const auto prefix = newline == std::string::npos ? "" : segment.substr(newline);
    if (newline != std::string::npos) segment.resize(newline);
    out += condensed_one(segment) + prefix;
  }
  return out;
}

}  // namespace

std::string describe(const std::exception_ptr& error) {
  std::string what;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    return "unknown exception";
  }
  // LibTorch's errors append the C++ backtrace: a line "Exception raised from ...", then one
  // "frame #N: ..." line per frame. An error that quotes others (a CopiesFailed) may hold several.
  for (size_t at; (at = what.find("Exception raised from ")) != std::string::npos;) {
    const auto line_start = what.rfind('\n', at);
    const auto start = line_start == std::string::npos ? at : line_start;
    auto end = what.find('\n', at);
    while (end != std::string::npos && what.compare(end + 1, 7, "frame #") == 0) {
      end = what.find('\n', end + 1);
    }
    what.erase(start, end == std::string::npos ? std::string::npos : end - start);
  }
  // An enforce error (CAFFE_ENFORCE: "[enforce fail at alloc_cpu.cpp:75] ... can't allocate
  // memory") has the frames without that line.
  for (size_t at; (at = what.find("\nframe #")) != std::string::npos;) {
    what.erase(at, what.find('\n', at + 1) - at);
  }
  while (!what.empty() && what.back() == '\n') what.pop_back();
  return condensed(what);
}

}  // namespace replicascope
