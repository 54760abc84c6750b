// SPDX-License-Identifier: MIT
// RunReader's version-6 tables: what the findings need beyond the statistics (each layer's
// momentum and eps, BatchNorm calls in eval mode during training, the run's events).
#include <cmath>

#include "replicascope/store/run_reader.h"
#include "sqlite_statement.h"

namespace replicascope::store {

using detail::Statement;

std::map<std::string, BatchNormSettings> RunReader::layer_settings() const {
  std::map<std::string, BatchNormSettings> out;
  if (!records_run_facts()) return out;
  Statement s(db_, path_,
              "SELECT l.name, s.momentum, s.eps FROM layer_settings s JOIN layers l ON l.id = "
              "s.layer ORDER BY s.layer");
  while (s.next()) {
    const std::string name = s.text(0);
    s.row(detail::row_in("layer_settings", -1, name));
    BatchNormSettings settings;
    settings.momentum = s.is_null(1) ? std::nullopt : std::optional<double>(s.real(1));
    settings.eps = s.real(2);
    if (std::isnan(settings.eps) || (settings.momentum && !std::isfinite(*settings.momentum)))
      detail::damaged_row(path_, s.where(), "momentum and eps must be finite numbers");
    out[name] = settings;
  }
  return out;
}

std::map<int64_t, std::vector<EvalCalls>> RunReader::eval_calls() const {
  std::map<int64_t, std::vector<EvalCalls>> out;
  if (!records_run_facts()) return out;
  Statement s(db_, path_, "SELECT step, module, calls FROM eval_calls ORDER BY step, module");
  s.row(detail::row_in("eval_calls"));
  while (s.next()) {
    const int64_t step = s.integer(0);
    s.row(detail::row_in("eval_calls", step, s.text(1)));
    out[step].push_back({s.text(1), s.integer(2)});
    s.row(detail::row_in("eval_calls"));
  }
  return out;
}

std::vector<RunEvent> RunReader::events() const {
  std::vector<RunEvent> out;
  if (!records_run_facts()) return out;
  Statement s(db_, path_,
              "SELECT step, kind, layer, sync_point, copy, message FROM events ORDER BY rowid");
  s.row(detail::row_in("events"));
  while (s.next()) {
    RunEvent event;
    event.step = s.integer(0);
    event.kind = s.text(1);
    event.layer = s.text(2);
    if (!s.is_null(3)) event.sync_point = s.integer(3);
    if (!s.is_null(4)) event.copy = static_cast<int>(s.integer(4));
    event.message = s.text(5);
    out.push_back(std::move(event));
  }
  return out;
}

}  // namespace replicascope::store
