// SPDX-License-Identifier: MIT
// RunReader: a run file read back (run_writer.h), of any schema version from 1 on.
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "replicascope/base/file_checks.h"
#include "replicascope/store/run_reader.h"
#include "sqlite_statement.h"
#include "stored_values.h"

namespace replicascope::store {

using detail::key_of_stored;
using detail::open_database;
using detail::Statement;
using detail::stored_single;

namespace {

// A file: URI for `path` (SQLite's URI filenames), with every character that could end or
// escape the path percent-encoded.
std::string file_uri(const std::string& path, const char* query) {
  std::string uri = "file:";
  const auto absolute = std::filesystem::absolute(path).lexically_normal().string();
  for (const unsigned char c : absolute) {
    if (std::isalnum(c) || std::strchr("/._-~", c)) {
      uri += static_cast<char>(c);
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof(escaped), "%%%02X", c);
      uri += escaped;
    }
  }
  return uri + "?" + query;
}

// PRAGMA user_version, or the SQLite result code of the failure.
int read_user_version(sqlite3* db, int64_t* version) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    *version = sqlite3_column_int64(stmt, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(stmt);
  return rc;
}

// The tables a run of schema version `version` has (docs/run-format.md).
std::vector<std::string> tables_of_version(int64_t version) {
  std::vector<std::string> tables{"meta", "steps", "layers", "sync_points", "channel_stats"};
  if (version >= 2) {
    for (const char* t : {"modules", "wiring_columns", "wiring_rows", "wiring_cells"})
      tables.push_back(t);
  }
  if (version >= 4) tables.push_back("summaries");
  if (version >= 6) {
    for (const char* t : {"layer_settings", "eval_calls", "events"}) tables.push_back(t);
  }
  return tables;
}

// Whether the run has `table`, through `exists` (kTableExists), reset for the next question.
constexpr const char* kTableExists =
    "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?";
bool has_table(Statement& exists, const std::string& table) {
  exists.bind(1, table);
  exists.next();
  const bool found = exists.integer(0) != 0;
  exists.reset();
  return found;
}

// One check of a run's tables on open: every table its version has, or one error naming all
// that are missing (the same words as the Python reader's).
void check_tables(sqlite3* db, const std::string& path, int64_t version) {
  std::string missing;
  Statement exists(db, path, kTableExists);
  for (const auto& table : tables_of_version(version)) {
    if (!has_table(exists, table)) missing += (missing.empty() ? "" : ", ") + table;
  }
  if (missing.empty()) return;
  throw StoreError("run '" + path + "': damaged or not a ReplicaScope run: schema version " +
                   std::to_string(version) + " has the table(s) " + missing +
                   ", which this file lacks");
}

// The channel count of a channel_stats row (its mean and var BLOBs, columns 4 and 5), which
// must agree with each other and with `expected`, the sync point's other series (-1: none yet).
int64_t check_channel_count(const Statement& s, bool single, int64_t expected) {
  const auto channels = s.value_count(4, single);
  if (s.value_count(5, single) != channels) {
    s.damaged(5, std::to_string(channels) + " values, as the mean has");
  }
  if (expected >= 0 && channels != expected) {
    s.damaged(4, std::to_string(expected) + " values, as the sync point's other series have");
  }
  return channels;
}

uintmax_t size_or_zero(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error ? 0 : size;
}

}  // namespace

RunReader::RunReader(const std::string& path) : path_(path) {
  const auto kind = not_a_regular_file(path);
  if (kind == "no such file") throw StoreError("run '" + path + "': no such file");
  if (!kind.empty()) {
    throw StoreError("run '" + path + "': " + kind + ", expected a run file (.sqlite)");
  }
  if (size_or_zero(path) == 0) {
    throw StoreError("run '" + path + "': empty (0 bytes), expected a run file (.sqlite)");
  }
  // mode=ro: never write. A run in WAL mode still needs its -shm beside it; on read-only media
  // (a mounted archive, a read-only share) SQLite cannot make one, and a finished run is then
  // read as immutable.
  const int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
  db_ = open_database(file_uri(path, "mode=ro"), path, flags);
  // A run another process is writing may be locked for a moment (a checkpoint, its close):
  // wait for it rather than fail a read (the GUI follows such runs).
  sqlite3_busy_timeout(db_, 2000);
  int64_t found = 0;
  int rc = read_user_version(db_, &found);
  if (rc == SQLITE_CANTOPEN || rc == SQLITE_READONLY || (rc & 0xff) == SQLITE_READONLY ||
      (rc & 0xff) == SQLITE_CANTOPEN) {
    sqlite3_close(db_);
    db_ = nullptr;
    if (size_or_zero(path + "-wal") > 0) {
      throw StoreError("run '" + path + "': its latest steps are in '" + path +
                       "-wal', which SQLite can read only where it may write beside the run; "
                       "copy the run and its -wal file to a writable folder");
    }
    db_ = open_database(file_uri(path, "immutable=1"), path, flags);
    rc = read_user_version(db_, &found);
  }
  try {
    if (rc != SQLITE_OK) {
      throw StoreError(
          "run '" + path + "': cannot read it: " + sqlite3_errstr(rc) +
          (rc == SQLITE_NOTADB ? " (expected a ReplicaScope run, a SQLite file)" : ""));
    }
    if (found < 1 || found > kSchemaVersion) {
      throw StoreError("run '" + path + "': not a ReplicaScope run of schema version 1 to " +
                       std::to_string(kSchemaVersion) + " (found version " + std::to_string(found) +
                       (found > kSchemaVersion ? ": a newer ReplicaScope wrote it)" : ")"));
    }
    check_tables(db_, path, found);
    version_ = static_cast<int>(found);
    if (version_ >= 6) {  // optional: version-6 files written before it came lack it
      Statement exists(db_, path, kTableExists);
      has_deviations_ = has_table(exists, "deviations");
    }
  } catch (const StoreError&) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

RunReader::~RunReader() {
  deviations_.reset();  // its statement before the database
  if (db_) sqlite3_close(db_);
}

Metadata RunReader::metadata() const {
  Metadata out;
  Statement s(db_, path_, "SELECT key, value FROM meta");
  s.row(detail::row_in("meta"));
  while (s.next()) out[s.text(0)] = s.text(1);
  return out;
}

std::vector<StepRow> RunReader::steps() const {
  std::vector<StepRow> out;
  Statement s(db_, path_,
              version_ >= 4   ? "SELECT step, epoch, loss, accuracy, seconds, nonfinite, detail "
                                "FROM steps ORDER BY step"
              : version_ == 3 ? "SELECT step, epoch, loss, accuracy, seconds, nonfinite, 1 FROM "
                                "steps ORDER BY step"
                              : "SELECT step, epoch, loss, accuracy, seconds, NULL, 1 FROM steps "
                                "ORDER BY step");
  while (s.next()) {
    s.row(detail::row_in("steps"));
    s.row(detail::row_in("steps", s.integer(0)));
    out.push_back({s.integer(0), s.integer(1), s.real(2), s.real(3), s.real(4), s.text(5),
                   s.integer(6) != 0});
  }
  return out;
}

std::vector<int64_t> RunReader::detail_steps() const {
  std::vector<int64_t> out;
  Statement s(db_, path_,
              version_ >= 4 ? "SELECT step FROM steps WHERE detail ORDER BY step"
                            : "SELECT step FROM steps ORDER BY step");
  s.row(detail::row_in("steps"));
  while (s.next()) out.push_back(s.integer(0));
  return out;
}

std::vector<std::string> RunReader::layers() const {
  std::vector<std::string> out;
  Statement s(db_, path_, "SELECT name FROM layers ORDER BY id");
  s.row(detail::row_in("layers"));
  while (s.next()) out.push_back(s.text(0));
  return out;
}

RunModel RunReader::model() const {
  if (version_ >= 2) return detail::read_model_tables(db_, path_);
  // Version 1: the wiring as text in the metadata (runs before it was kept have none), and the
  // module tree rebuilt from it.
  const auto meta = metadata();
  RunModel out;
  try {
    if (meta.count("wiring")) out.wiring = wiring_from_text(meta.at("wiring"));
  } catch (const std::invalid_argument& e) {
    throw StoreError("run '" + path_ + "': " + e.what());
  }
  const auto names = layers();
  out.modules =
      modules_from_wiring(out.wiring, {names.begin(), names.end()}, trained_synchronized(meta));
  return out;
}

bool trained_synchronized(const Metadata& metadata) {
  const auto it = metadata.find("synchronized");
  return it == metadata.end() || it->second != "false";
}

void RunReader::require_layer(const std::string& layer) const {
  const auto names = layers();
  if (std::find(names.begin(), names.end(), layer) != names.end()) return;
  std::string known;
  for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
  throw StoreError("layer '" + layer + "' is not in the run '" + path_ + "' (layers: " + known +
                   ")");
}

// The queries of one layer find its id first (a constant subquery): joining on the name would
// look the layers up once per row of the step-ordered tables, which is most of a read of a
// 121-layer run (150 ms against 40 ms for 10,000 steps of densenet121).
void RunReader::for_each_stat(const StatFilter& filter,
                              const std::function<void(const StatRow&)>& fn) const {
  Statement s(db_, path_,
              "SELECT c.step, l.name, c.sync_point, c.copy, c.mean, c.var "
              "FROM channel_stats c JOIN layers l ON l.id = c.layer "
              "WHERE (?1 = '' OR c.layer = (SELECT id FROM layers WHERE name = ?1)) "
              "AND c.step BETWEEN ?2 AND ?3 "
              "ORDER BY c.step, c.layer, c.sync_point, c.copy");
  s.bind(1, filter.layer).bind(2, filter.first_step).bind(3, filter.last_step);
  // One sync point's rows (a few copies' worth) are put in SeriesKey's order before they go out.
  struct Stored {
    SeriesKey key;
    std::vector<double> mean, var;
  };
  std::vector<Stored> group;
  StatRow row;
  auto flush = [&] {
    std::sort(group.begin(), group.end(),
              [](const Stored& a, const Stored& b) { return a.key < b.key; });
    for (const auto& stored : group) {
      row.key = stored.key;
      for (size_t k = 0; k < stored.mean.size() && k < stored.var.size(); ++k) {
        row.channel = std::max<int64_t>(filter.first_channel, 0) + static_cast<int64_t>(k);
        for (const auto statistic : {Statistic::kMean, Statistic::kVar}) {
          if (filter.statistic && *filter.statistic != statistic) continue;
          row.statistic = statistic;
          row.value = statistic == Statistic::kMean ? stored.mean[k] : stored.var[k];
          fn(row);
        }
      }
    }
    group.clear();
  };
  int64_t channels = 0;  // of the sync point's first series: every series has as many
  while (s.next()) {
    s.row(detail::row_in("channel_stats"));
    const auto step = s.integer(0);
    auto layer = s.text(1);
    const auto sync_point = s.integer(2);
    if (!group.empty() && (step != row.step || layer != row.layer || sync_point != row.sync_point))
      flush();
    s.row(detail::row_in("channel_stats", step, layer));
    row.step = step;
    row.layer = std::move(layer);
    row.sync_point = sync_point;
    const auto key = key_of_stored(s.integer(3), path_);
    const bool single = stored_single(key, version_);
    channels = check_channel_count(s, single, group.empty() ? -1 : channels);
    group.push_back({key, s.reals(4, filter.first_channel, filter.last_channel, single),
                     s.reals(5, filter.first_channel, filter.last_channel, single)});
  }
  if (!group.empty()) flush();
}

std::map<std::string, std::vector<DivergencePoint>> RunReader::divergence_by_layer(
    bool each_call) const {
  // One scan in the table's own order (step, layer, sync point): a query per layer would scan
  // the whole table once per layer.
  std::map<int64_t, std::vector<DivergencePoint>> by_id;
  Statement s(db_, path_,
              version_ >= 4 ? "SELECT step, layer, divergence, worst_channel, sync_point "
                              "FROM sync_points ORDER BY step, layer, sync_point"
                            : "SELECT step, layer, divergence, -1, sync_point FROM sync_points "
                              "ORDER BY step, layer, sync_point");
  std::vector<DivergencePoint>* points = nullptr;
  int64_t id = -1;
  while (s.next()) {
    s.row(detail::row_in("sync_points"));
    s.row(detail::row_in("sync_points", s.integer(0)));
    if (s.integer(1) != id || !points) points = &by_id[id = s.integer(1)];
    const DivergencePoint point{s.integer(0), s.real(2), s.integer(3), s.integer(4)};
    if (!each_call && !points->empty() && points->back().step == point.step) {
      // Another sync point of the layer: the step shows the largest (NaN wins, as it must show).
      auto& last = points->back();
      if (!(point.value <= last.value)) last = point;
    } else {
      points->push_back(point);
    }
  }
  std::map<std::string, std::vector<DivergencePoint>> out;
  Statement names(db_, path_, "SELECT id, name FROM layers");
  names.row(detail::row_in("layers"));
  while (names.next()) {
    auto it = by_id.find(names.integer(0));
    out[names.text(1)] = it == by_id.end() ? std::vector<DivergencePoint>{} : std::move(it->second);
  }
  return out;
}

void RunReader::for_each_summary(const std::string& layer,
                                 const std::function<void(const SummaryRow&)>& fn) const {
  SummaryRow row;
  if (version_ >= 4) {
    Statement s(db_, path_,
                "SELECT step, sync_point, copies FROM summaries "
                "WHERE layer = (SELECT id FROM layers WHERE name = ?) ORDER BY step, sync_point");
    s.bind(1, layer);
    while (s.next()) {
      s.row(detail::row_in("summaries", -1, layer));
      row.step = s.integer(0);
      s.row(detail::row_in("summaries", row.step, layer));
      row.sync_point = s.integer(1);
      auto summaries = detail::summaries_of_blob(s.bytes(2), path_, s.where());
      std::sort(summaries.begin(), summaries.end(),
                [](const KeySummary& a, const KeySummary& b) { return a.key < b.key; });
      for (const auto& summary : summaries) {
        row.summary = summary;
        fn(row);
      }
    }
    return;
  }
  // Older runs kept every step's per-channel values (float64): their means over channels.
  Statement s(db_, path_,
              "SELECT step, sync_point, copy, count, mean, var FROM channel_stats "
              "WHERE layer = (SELECT id FROM layers WHERE name = ?) ORDER BY step, sync_point");
  s.bind(1, layer);
  std::vector<KeySummary> group;
  auto flush = [&] {
    std::sort(group.begin(), group.end(),
              [](const KeySummary& a, const KeySummary& b) { return a.key < b.key; });
    for (const auto& summary : group) {
      row.summary = summary;
      fn(row);
    }
    group.clear();
  };
  while (s.next()) {
    s.row(detail::row_in("channel_stats", -1, layer));
    s.row(detail::row_in("channel_stats", s.integer(0), layer));
    if (!group.empty() && (s.integer(0) != row.step || s.integer(1) != row.sync_point)) flush();
    row.step = s.integer(0);
    row.sync_point = s.integer(1);
    group.push_back({key_of_stored(s.integer(2), path_), s.integer(3),
                     mean_over_channels(s.reals(4, 0, INT64_MAX)),
                     mean_over_channels(s.reals(5, 0, INT64_MAX))});
  }
  flush();
}

}  // namespace replicascope::store
