// SPDX-License-Identifier: GPL-3.0-or-later
// A session spec as the flags of `replicascope-cli train`, for settings and signals.
#include <algorithm>

#include "controller/engine_types.h"

namespace replicascope::ui {

QStringList session_flags_of(const engine::SessionSpec& spec) {
  QStringList flags;
  for (const auto& flag : engine::session_spec_flags(spec)) flags << QString::fromStdString(flag);
  return flags;
}

engine::SessionSpec session_from_flags(const QStringList& flags) {
  engine::SessionSpec spec;
  for (int i = 0; i < flags.size(); ++i) {
    const auto name = flags[i].mid(2).toStdString();  // "--data" -> "data"
    const auto& known = engine::session_flags();
    const auto flag = std::find_if(known.begin(), known.end(),
                                   [&](const engine::SpecFlag& f) { return f.name == name; });
    const bool takes_value = flag != known.end() && flag->takes_value && i + 1 < flags.size();
    engine::set_session_flag(spec, name, takes_value ? flags[++i].toStdString() : std::string());
  }
  return spec;
}

}  // namespace replicascope::ui
