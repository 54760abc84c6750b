// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli/session_args.h"

#include "replicascope/engine/session_factory.h"
#include "replicascope/store/run_rows.h"

namespace replicascope::cli {

void add_session_flags(std::set<std::string>& options, std::set<std::string>& switches,
                       const std::set<std::string>& only) {
  for (const auto& flag : engine::session_flags()) {
    if (only.empty() || only.count(flag.name))
      (flag.takes_value ? options : switches).insert(flag.name);
  }
}

engine::SessionSpec session_spec(const Arguments& args, engine::SessionSpec spec) {
  for (const auto& flag : engine::session_flags()) {
    if (args.has(flag.name)) engine::set_session_flag(spec, flag.name, args.get(flag.name, ""));
  }
  engine::check_session_spec(spec);
  return spec;
}

std::shared_ptr<dist::ProcessGroup> join_if_dist(const Arguments& args,
                                                 const std::string& devices) {
  engine::SessionSpec spec;
  spec.devices = devices;
  for (const char* name : {"dist", "backend", "timeout"}) {
    if (args.has(name)) engine::set_session_flag(spec, name, args.get(name, ""));
  }
  engine::check_session_spec(spec);
  if (!spec.dist) return nullptr;
  // Every rank must run the same command: each option, and each file's content (a model's
  // path may differ between machines, its bytes may not). Not the timeout, which may differ
  // harmlessly, nor the seed: a rank that draws other data is what verify is there to catch.
  dist::Settings settings;
  for (auto& [name, value] : args.given()) {
    if (name != "--timeout" && name != "--seed") settings.emplace_back(name, value);
  }
  for (const auto& file : args.positional()) settings.emplace_back("file", store::file_hash(file));
  return engine::join_group(spec, settings);
}

}  // namespace replicascope::cli
