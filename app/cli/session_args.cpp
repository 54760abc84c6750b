#include "cli/session_args.h"

#include "replicascope/engine/session_factory.h"

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
  return spec.dist ? engine::join_group(spec) : nullptr;
}

}  // namespace replicascope::cli
