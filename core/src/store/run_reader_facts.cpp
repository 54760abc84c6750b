// SPDX-License-Identifier: MIT
// RunReader's version-6 tables: what the findings need beyond the statistics (each layer's
// momentum and eps, BatchNorm calls in eval mode during training, the run's events, the
// copies' deviations of every step).
#include <cmath>

#include "replicascope/store/run_reader.h"
#include "sqlite_statement.h"
#include "stored_values.h"

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
    if (!s.is_null(4)) event.series = detail::key_of_stored(s.integer(4), path_);
    event.message = s.text(5);
    out.push_back(std::move(event));
  }
  return out;
}

std::vector<std::pair<std::string, std::vector<SeriesDeviation>>> RunReader::deviations_at(
    int64_t step) const {
  std::vector<std::pair<std::string, std::vector<SeriesDeviation>>> out;
  if (!has_deviations_) return out;
  if (!deviations_) {  // one pass over the rows in the order written, which is the steps'
    deviations_ = std::make_unique<Statement>(
        db_, path_,
        "SELECT d.step, l.name, d.copies, d.u, l.id IS NULL FROM deviations d LEFT JOIN layers l "
        "ON l.id = d.layer ORDER BY d.rowid");
  }
  auto& s = *deviations_;
  if (step <= deviations_asked_) {  // a step again, or an earlier one: a new pass
    s.reset();
    deviation_pending_ = deviations_done_ = false;
  }
  deviations_asked_ = step;
  while (true) {
    if (!deviation_pending_) {
      if (deviations_done_ || !s.next()) {
        deviations_done_ = true;
        break;
      }
      deviation_pending_ = true;
    }
    s.row(detail::row_in("deviations"));
    const int64_t at = s.integer(0);
    if (at > step) break;  // a later step's row: it waits for its step
    deviation_pending_ = false;
    if (at < step) continue;  // a step not asked for
    if (s.integer(4)) detail::damaged_row(path_, s.where(), "layer names no row of layers");
    const std::string layer = s.text(1);
    s.row(detail::row_in("deviations", step, layer));
    out.push_back({layer, detail::deviations_of_row(s.bytes(2), s.bytes(3), path_, s.where())});
  }
  return out;
}

}  // namespace replicascope::store
