// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli/findings_output.h"

#include <unistd.h>

#include <cstdio>
#include <map>

#include "cli/json_writer.h"

namespace replicascope::cli {

void print_finding(std::ostream& out, const diagnose::Finding& finding, const std::string& source) {
  out << diagnose::finding_line(finding, source) << "\n"
      << "  why: " << finding.why << "\n"
      << "  do: " << finding.what_to_do << "\n";
}

void print_findings_json(std::ostream& out, const std::vector<diagnose::Finding>& findings) {
  JsonWriter json(out);
  json.begin_array();
  for (const auto& f : findings) {
    json.begin_object().key("kind").value(f.kind);
    json.key("severity").value(diagnose::severity_name(f.severity));
    json.key("layer").value(f.layer).key("sync_point").value(f.sync_point);
    json.key("series").begin_array();
    for (const auto& key : f.series) json.value(key.label());
    json.end_array().key("channels").values(f.channels);
    json.key("first_step").value(f.first_step).key("last_step").value(f.last_step);
    json.key("evidence").value(f.evidence).key("why").value(f.why);
    json.key("what_to_do").value(f.what_to_do).end_object();
  }
  json.end_array();
  out << "\n";
}

std::string not_checked_line(const std::string& source, const diagnose::RunFacts& facts) {
  std::map<std::string, std::string> kinds_by_why;  // one clause per reason
  for (const auto& n : diagnose::not_checked(facts)) {
    auto& kinds = kinds_by_why[n.why];
    kinds += (kinds.empty() ? "" : ", ") + n.kind;
  }
  if (kinds_by_why.empty()) return "";
  std::string out = source + ": not checked";
  bool first = true;
  for (const auto& [why, kinds] : kinds_by_why) {
    out += std::string(first ? " " : "; ") + "(" + why + "): " + kinds;
    first = false;
  }
  return out;
}

void say_new_findings(diagnose::Diagnosis& diagnosis, const std::string& source) {
  static const bool terminal = ::isatty(STDERR_FILENO);
  for (const auto& f : diagnosis.new_findings()) {
    if (f.severity < diagnose::Severity::kWarning) continue;
    std::fprintf(stderr, "%s%s\n", terminal ? "\r\033[K" : "",
                 diagnose::finding_line(f, source).c_str());
  }
}

}  // namespace replicascope::cli
