#include "replicascope/store/run_store.h"

#include "replicascope/engine/session.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace replicascope::store {
namespace {

constexpr const char* kSchema = R"(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE steps(step INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, loss REAL NOT NULL,
                   accuracy REAL NOT NULL, seconds REAL NOT NULL);
CREATE TABLE layers(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE sync_points(step INTEGER NOT NULL, layer INTEGER NOT NULL, sync_point INTEGER NOT NULL,
                         count INTEGER NOT NULL, divergence REAL NOT NULL,
                         PRIMARY KEY(step, layer, sync_point)) WITHOUT ROWID;
CREATE TABLE channel_stats(step INTEGER NOT NULL, layer INTEGER NOT NULL,
                           sync_point INTEGER NOT NULL, copy INTEGER NOT NULL,
                           count INTEGER NOT NULL, mean BLOB NOT NULL, var BLOB NOT NULL,
                           UNIQUE(step, layer, sync_point, copy));
)";
// channel_stats holds one row per copy with every channel's value in a BLOB of float64s in
// the machine's byte order (little-endian on every platform LibTorch supports): one insert per
// copy rather than per channel keeps recording off the training's critical path. A rowid table
// (not WITHOUT ROWID, whose rows spill to overflow pages beyond a few hundred bytes) keeps the
// BLOBs in the B-tree's pages: 10,000 demo steps take 107 MB instead of 307 MB.

[[noreturn]] void fail(sqlite3* db, const std::string& path, const std::string& what) {
  throw StoreError("run '" + path + "': " + what +
                   (db ? std::string(": ") + sqlite3_errmsg(db) : ""));
}

void exec(sqlite3* db, const std::string& path, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw StoreError("run '" + path + "': " + message);
  }
}

// A prepared statement, finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail(db, path, "bad query");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, const std::vector<double>& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size() * sizeof(double)),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.c_str(), -1, SQLITE_TRANSIENT);
    return *this;
  }
  // Runs a statement that returns no rows, then resets it for the next use.
  void run() {
    if (sqlite3_step(stmt_) != SQLITE_DONE) fail(db_, path_, "cannot write");
    sqlite3_reset(stmt_);
  }
  bool next() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail(db_, path_, "cannot read");
    return false;
  }
  int64_t integer(int i) const { return sqlite3_column_int64(stmt_, i); }
  double real(int i) const { return sqlite3_column_double(stmt_, i); }
  // Values [first, last] of a float64 BLOB column, clamped to what it holds.
  std::vector<double> doubles(int i, int64_t first, int64_t last) const {
    const auto* data = static_cast<const double*>(sqlite3_column_blob(stmt_, i));
    const int64_t n = sqlite3_column_bytes(stmt_, i) / static_cast<int64_t>(sizeof(double));
    std::vector<double> out;
    for (int64_t c = std::max<int64_t>(first, 0); c <= last && c < n; ++c) out.push_back(data[c]);
    return out;
  }
  std::string text(int i) const {
    const auto* t = sqlite3_column_text(stmt_, i);
    return t ? reinterpret_cast<const char*>(t) : "";
  }

 private:
  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

std::string copy_label(int copy) {
  if (copy == kSynchronizedCopy) return "synchronized";
  if (copy == kRunningCopy) return "running";
  if (copy <= kFirstRankCopy) return "rank " + std::to_string(kFirstRankCopy - copy);
  return std::to_string(copy);
}

std::string file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StoreError("cannot read '" + path + "' to hash it");
  uint64_t hash = 1469598103934665603ull;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      hash = (hash ^ static_cast<unsigned char>(buffer[i])) * 1099511628211ull;
    }
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

struct RunWriter::Statements {
  Statement step, layer, sync_point, channel;
  Statements(sqlite3* db, const std::string& path)
      : step(db, path, "INSERT INTO steps VALUES(?,?,?,?,?)"),
        layer(db, path, "INSERT INTO layers(name) VALUES(?)"),
        sync_point(db, path, "INSERT INTO sync_points VALUES(?,?,?,?,?)"),
        channel(db, path, "INSERT INTO channel_stats VALUES(?,?,?,?,?,?,?)") {}
};

RunWriter::RunWriter(const std::string& path, const Metadata& metadata) : path_(path) {
  std::error_code error;
  if (std::filesystem::exists(path, error)) {
    throw StoreError("run '" + path + "': the file exists; runs are not overwritten");
  }
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw StoreError("run '" + path + "': cannot create it: " + message +
                     " (is the folder there and writable?)");
  }
  try {
    // WAL: a step's transaction is in the file once committed, and a kill mid-step leaves the
    // database as of the last commit. NORMAL sync is safe against a killed process.
    exec(db_, path, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
    exec(db_, path, "BEGIN");
    exec(db_, path, kSchema);
    exec(db_, path, ("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
    Statement meta(db_, path, "INSERT INTO meta VALUES(?,?)");
    auto all = metadata;
    all["schema_version"] = std::to_string(kSchemaVersion);
    all["sqlite"] = sqlite3_libversion();
    for (const auto& [key, value] : all) meta.bind(1, key).bind(2, value).run();
    exec(db_, path, "COMMIT");
    statements_ = std::make_unique<Statements>(db_, path);
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    std::filesystem::remove(path, error);
    throw;
  }
}

RunWriter::~RunWriter() {
  statements_.reset();
  if (db_) sqlite3_close(db_);
}

int64_t RunWriter::layer_id(const std::string& name) {
  auto it = layer_ids_.find(name);
  if (it != layer_ids_.end()) return it->second;
  statements_->layer.bind(1, name).run();
  return layer_ids_[name] = sqlite3_last_insert_rowid(db_);
}

void RunWriter::append(const engine::StepRecord& r) {
  exec(db_, path_, "BEGIN");
  try {
    statements_->step.bind(1, r.step).bind(2, r.epoch).bind(3, r.loss).bind(4, r.accuracy);
    statements_->step.bind(5, r.seconds).run();
    for (const auto& layer : r.layers) {
      const int64_t id = layer_id(layer.layer);
      statements_->sync_point.bind(1, r.step).bind(2, id).bind(3, layer.sync_point);
      statements_->sync_point.bind(4, layer.count).bind(5, layer.divergence).run();
      auto channels = [&](int copy, int64_t count, const std::vector<double>& mean,
                          const std::vector<double>& var) {
        if (mean.empty()) return;  // no running statistics
        auto& s = statements_->channel;
        s.bind(1, r.step).bind(2, id).bind(3, layer.sync_point).bind(4, int64_t{copy});
        s.bind(5, count).bind(6, mean).bind(7, var).run();
      };
      for (const auto& copy : layer.copies) channels(copy.copy, copy.count, copy.mean, copy.var);
      channels(kSynchronizedCopy, layer.count, layer.mean, layer.var);
      channels(kRunningCopy, layer.count, layer.running_mean, layer.running_var);
      for (const auto& rank : layer.ranks) {
        channels(kFirstRankCopy - rank.copy, rank.count, rank.mean, rank.var);
      }
    }
    exec(db_, path_, "COMMIT");
  } catch (...) {
    exec(db_, path_, "ROLLBACK");
    layer_ids_.clear();  // ids inserted in the rolled-back transaction are gone
    throw;
  }
}

RunReader::RunReader(const std::string& path) : path_(path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error))
    throw StoreError("run '" + path + "': no such file");
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError("run '" + path + "': cannot open it: " + message);
  }
  try {
    Statement version(db_, path, "PRAGMA user_version");
    version.next();
    const int64_t found = version.integer(0);
    Statement tables(db_, path, "SELECT count(*) FROM sqlite_master WHERE name='channel_stats'");
    tables.next();
    if (tables.integer(0) != 1 || found != kSchemaVersion) {
      throw StoreError("run '" + path + "': not a ReplicaScope run of schema version " +
                       std::to_string(kSchemaVersion) + " (found version " + std::to_string(found) +
                       ")");
    }
  } catch (const StoreError&) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

RunReader::~RunReader() {
  if (db_) sqlite3_close(db_);
}

Metadata RunReader::metadata() const {
  Metadata out;
  Statement s(db_, path_, "SELECT key, value FROM meta");
  while (s.next()) out[s.text(0)] = s.text(1);
  return out;
}

std::vector<StepRow> RunReader::steps() const {
  std::vector<StepRow> out;
  Statement s(db_, path_, "SELECT step, epoch, loss, accuracy, seconds FROM steps ORDER BY step");
  while (s.next()) out.push_back({s.integer(0), s.integer(1), s.real(2), s.real(3), s.real(4)});
  return out;
}

std::vector<std::string> RunReader::layers() const {
  std::vector<std::string> out;
  Statement s(db_, path_, "SELECT name FROM layers ORDER BY id");
  while (s.next()) out.push_back(s.text(0));
  return out;
}

void RunReader::require_layer(const std::string& layer) const {
  const auto names = layers();
  if (std::find(names.begin(), names.end(), layer) != names.end()) return;
  std::string known;
  for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
  throw StoreError("layer '" + layer + "' is not in the run '" + path_ + "' (layers: " + known +
                   ")");
}

void RunReader::for_each_stat(const StatFilter& filter,
                              const std::function<void(const StatRow&)>& fn) const {
  Statement s(db_, path_,
              "SELECT c.step, l.name, c.sync_point, c.copy, c.mean, c.var "
              "FROM channel_stats c JOIN layers l ON l.id = c.layer "
              "WHERE (?1 = '' OR l.name = ?1) "
              "ORDER BY c.step, c.layer, c.sync_point, "
              "CASE WHEN c.copy < 0 THEN 1000000 - c.copy ELSE c.copy END");
  s.bind(1, filter.layer);
  StatRow row;
  while (s.next()) {
    row.step = s.integer(0);
    row.layer = s.text(1);
    row.sync_point = s.integer(2);
    row.copy = static_cast<int>(s.integer(3));
    const auto mean = s.doubles(4, filter.first_channel, filter.last_channel);
    const auto var = s.doubles(5, filter.first_channel, filter.last_channel);
    for (size_t k = 0; k < mean.size() && k < var.size(); ++k) {
      row.channel = std::max<int64_t>(filter.first_channel, 0) + static_cast<int64_t>(k);
      for (const char* statistic : {"mean", "var"}) {
        if (!filter.statistic.empty() && filter.statistic != statistic) continue;
        row.statistic = statistic;
        row.value = statistic[0] == 'm' ? mean[k] : var[k];
        fn(row);
      }
    }
  }
}

std::vector<std::pair<int64_t, double>> RunReader::divergence(const std::string& layer) const {
  std::vector<std::pair<int64_t, double>> out;
  Statement s(db_, path_,
              "SELECT p.step, max(p.divergence) FROM sync_points p JOIN layers l ON l.id = p.layer "
              "WHERE l.name = ? GROUP BY p.step ORDER BY p.step");
  s.bind(1, layer);
  while (s.next()) out.emplace_back(s.integer(0), s.real(1));
  return out;
}

}  // namespace replicascope::store
