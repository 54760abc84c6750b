#include "replicascope/store/run_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "replicascope/file_checks.h"
#include "sqlite_statement.h"

namespace replicascope::store {

using detail::exec;
using detail::Statement;

namespace {

constexpr const char* kSchema = R"(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE steps(step INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, loss REAL, accuracy REAL,
                   seconds REAL NOT NULL, nonfinite TEXT);
CREATE TABLE layers(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE sync_points(step INTEGER NOT NULL, layer INTEGER NOT NULL, sync_point INTEGER NOT NULL,
                         count INTEGER NOT NULL, divergence REAL,
                         PRIMARY KEY(step, layer, sync_point)) WITHOUT ROWID;
CREATE TABLE channel_stats(step INTEGER NOT NULL, layer INTEGER NOT NULL,
                           sync_point INTEGER NOT NULL, copy INTEGER NOT NULL,
                           count INTEGER NOT NULL, mean BLOB NOT NULL, var BLOB NOT NULL,
                           UNIQUE(step, layer, sync_point, copy));
CREATE TABLE modules(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
                     full_type TEXT NOT NULL, depth INTEGER NOT NULL,
                     own_parameters INTEGER NOT NULL, subtree_parameters INTEGER NOT NULL,
                     synchronized INTEGER NOT NULL, receives_callbacks INTEGER NOT NULL);
CREATE TABLE wiring_columns(id INTEGER PRIMARY KEY, device TEXT NOT NULL, rank INTEGER NOT NULL,
                            copy INTEGER NOT NULL);
CREATE TABLE wiring_rows(context_id INTEGER PRIMARY KEY, module TEXT NOT NULL, type TEXT NOT NULL,
                         expects_callbacks INTEGER NOT NULL);
CREATE TABLE wiring_cells(context_id INTEGER NOT NULL, column_id INTEGER NOT NULL,
                          present INTEGER NOT NULL, called INTEGER NOT NULL,
                          call_order INTEGER NOT NULL,
                          PRIMARY KEY(context_id, column_id)) WITHOUT ROWID;
)";
// SQLite stores NaN as NULL: loss, accuracy and divergence are NULL where they were NaN (version
// 3), and steps.nonfinite names what was not finite in a step (NULL for a finite one).
// modules: the model's module tree in module order (id = index). wiring_*: the ranks x copies
// wiring, one column per copy (rank, its copy), one row per module index (context), one cell
// per both. Version 1 files have neither; their wiring is text in meta("wiring").
// channel_stats holds one row per copy with every channel's value in a BLOB of float64s in
// the machine's byte order (little-endian on every platform LibTorch supports): one insert per
// copy rather than per channel keeps recording off the training's critical path. A rowid table
// (not WITHOUT ROWID, whose rows spill to overflow pages beyond a few hundred bytes) keeps the
// BLOBs in the B-tree's pages: 10,000 demo steps take 107 MB instead of 307 MB.

// The copy column's coding (docs/run-format.md): copies 0, 1, ...; the synchronized statistics
// -1; the running ones -2; rank r's over its copies -3 - r.
int64_t stored_copy(const SeriesKey& key) {
  switch (key.kind) {
    case SeriesKey::Kind::kSynchronized:
      return -1;
    case SeriesKey::Kind::kRunning:
      return -2;
    case SeriesKey::Kind::kRank:
      return -3 - int64_t{key.index};
    default:
      return key.index;
  }
}

SeriesKey key_of_stored(int64_t copy, const std::string& path) {
  constexpr int64_t kMost = 1 << 20;  // copies or ranks; far more than any machine has
  if (copy < -3 - kMost || copy >= kMost) {
    throw StoreError("run '" + path + "': copy id " + std::to_string(copy) +
                     " is out of range (expected -" + std::to_string(3 + kMost) + " to " +
                     std::to_string(kMost - 1) + ")");
  }
  if (copy >= 0) return SeriesKey::copy(static_cast<int>(copy));
  if (copy == -1) return SeriesKey::synchronized();
  if (copy == -2) return SeriesKey::running();
  return SeriesKey::rank(static_cast<int>(-3 - copy));
}

}  // namespace

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
      : step(db, path, "INSERT INTO steps VALUES(?,?,?,?,?,?)"),
        layer(db, path, "INSERT INTO layers(name) VALUES(?)"),
        sync_point(db, path, "INSERT INTO sync_points VALUES(?,?,?,?,?)"),
        channel(db, path, "INSERT INTO channel_stats VALUES(?,?,?,?,?,?,?)") {}
};

namespace {

// A name beside `path` for building a run before it is moved into place; unique in this process
// and, through the pid, among processes.
std::string creation_name(const std::string& path) {
  static std::atomic<int> counter{0};
  return path + ".creating-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// Creates `path` as an empty file that did not exist (O_EXCL), so that removing it later only
// ever removes a file of this process. Returns its inode.
ino_t create_exclusively(const std::string& path, const std::string& run) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int error = errno;
    throw StoreError("run '" + run + "': cannot create it: " + std::strerror(error) +
                     (error == ENOENT || error == EACCES || error == EROFS
                          ? " (is the folder there and writable?)"
                          : ""));
  }
  struct stat status {};
  ::fstat(fd, &status);
  ::close(fd);
  return status.st_ino;
}

// Moves `from` to `to` only if nothing is at `to`, atomically: RENAME_NOREPLACE, or a hard link
// on filesystems without it. False when `to` exists: the race was lost, the winner's file stays.
bool move_into_place(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno == EEXIST) return false;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) {
    throw StoreError("run '" + to +
                     "': cannot move the new run into place: " + std::strerror(errno));
  }
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) return false;
    throw StoreError("run '" + to +
                     "': cannot link the new run into place: " + std::strerror(errno));
  }
  ::unlink(from.c_str());
  return true;
}

// Removes `path` if it is still the file of inode `inode` (one this process created), with the
// WAL files SQLite made beside it.
void remove_own(const std::string& path, ino_t inode) {
  struct stat status {};
  if (::stat(path.c_str(), &status) == 0 && status.st_ino == inode) ::unlink(path.c_str());
  for (const char* suffix : {"-wal", "-shm", "-journal"}) ::unlink((path + suffix).c_str());
}

sqlite3* open_database(const std::string& file, const std::string& run, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw StoreError("run '" + run + "': cannot open it: " + message);
  }
  return db;
}

// Ends the transaction SQLite left open after a failure, if any, ignoring the outcome: after
// SQLITE_FULL SQLite has already rolled back, and a second ROLLBACK's error would hide the first.
void roll_back_if_open(sqlite3* db) {
  if (db && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace

RunWriter::RunWriter(const std::string& path, const Metadata& metadata, const RunModel& model)
    : path_(path) {
  std::error_code error;
  if (path.empty()) throw StoreError("run '': expected a file name to record to");
  if (std::filesystem::exists(path, error)) {
    throw StoreError("run '" + path + "': the file exists; runs are not overwritten");
  }
  // The schema is built under a temporary name and moved into place only if nothing is there
  // by then: a writer that loses a race leaves the winner's run alone, and a kill during
  // creation leaves no stub at `path`.
  const auto building = creation_name(path);
  const ino_t inode = create_exclusively(building, path);
  sqlite3* db = nullptr;
  try {
    db = open_database(building, path, SQLITE_OPEN_READWRITE);
    // WAL: a step's transaction is in the file once committed, and a kill mid-step leaves the
    // database as of the last commit. The mode is kept in the file.
    exec(db, path, "PRAGMA journal_mode=WAL");
    exec(db, path, "BEGIN");
    exec(db, path, kSchema);
    exec(db, path, ("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
    Statement meta(db, path, "INSERT INTO meta VALUES(?,?)");
    auto all = metadata;
    all["schema_version"] = std::to_string(kSchemaVersion);
    all["sqlite"] = sqlite3_libversion();
    for (const auto& [key, value] : all) meta.bind(1, key).bind(2, value).run();
    detail::write_model_tables(db, path, model);
    exec(db, path, "COMMIT");
  } catch (...) {
    roll_back_if_open(db);
    sqlite3_close(db);
    remove_own(building, inode);
    throw;
  }
  sqlite3_close(db);  // the last connection: SQLite folds the WAL into the file and removes it
  bool placed = false;
  try {
    placed = move_into_place(building, path);
  } catch (...) {
    remove_own(building, inode);
    throw;
  }
  if (!placed) {
    remove_own(building, inode);
    throw StoreError("run '" + path +
                     "': the file exists (another process created it first); runs are not "
                     "overwritten");
  }
  try {
    db_ = open_database(path, path, SQLITE_OPEN_READWRITE);
    // NORMAL sync is safe against a killed process; it is a setting of the connection.
    exec(db_, path, "PRAGMA synchronous=NORMAL");
    statements_ = std::make_unique<Statements>(db_, path);
  } catch (...) {
    statements_.reset();
    sqlite3_close(db_);
    db_ = nullptr;
    remove_own(path, inode);
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
  const auto committed = layer_ids_;  // a few dozen names: cheap beside the step's inserts
  exec(db_, path_, "BEGIN");
  try {
    statements_->step.bind(1, r.step).bind(2, r.epoch).bind(3, r.loss).bind(4, r.accuracy);
    const auto nonfinite = engine::nonfinite_part(r);
    statements_->step.bind(5, r.seconds);
    if (nonfinite.empty()) {
      statements_->step.bind_null(6).run();
    } else {
      statements_->step.bind(6, nonfinite).run();
    }
    for (const auto& layer : r.layers) {
      const int64_t id = layer_id(layer.layer);
      statements_->sync_point.bind(1, r.step).bind(2, id).bind(3, layer.sync_point);
      statements_->sync_point.bind(4, layer.count).bind(5, layer.divergence).run();
      for (const auto& key : layer.keys()) {
        const auto* mean = layer.values(key, Statistic::kMean);
        const auto* var = layer.values(key, Statistic::kVar);
        if (!mean || !var) continue;  // no running statistics
        auto& s = statements_->channel;
        s.bind(1, r.step).bind(2, id).bind(3, layer.sync_point).bind(4, stored_copy(key));
        s.bind(5, layer.count_of(key)).bind(6, *mean).bind(7, *var).run();
      }
    }
    exec(db_, path_, "COMMIT");
  } catch (...) {
    // The ids this transaction inserted are gone with it; the committed ones stay (forgetting
    // those too would insert their names again, and every later step would fail).
    layer_ids_ = committed;
    roll_back_if_open(db_);
    throw;
  }
}

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
    Statement tables(db_, path, "SELECT count(*) FROM sqlite_master WHERE name='channel_stats'");
    tables.next();
    if (tables.integer(0) != 1 || found < 1 || found > kSchemaVersion) {
      throw StoreError("run '" + path + "': not a ReplicaScope run of schema version 1 to " +
                       std::to_string(kSchemaVersion) + " (found version " + std::to_string(found) +
                       ")");
    }
    version_ = static_cast<int>(found);
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
  Statement s(db_, path_,
              version_ >= 3 ? "SELECT step, epoch, loss, accuracy, seconds, nonfinite FROM steps "
                              "ORDER BY step"
                            : "SELECT step, epoch, loss, accuracy, seconds, NULL FROM steps "
                              "ORDER BY step");
  while (s.next()) {
    out.push_back({s.integer(0), s.integer(1), s.real(2), s.real(3), s.real(4), s.text(5)});
  }
  return out;
}

std::vector<std::string> RunReader::layers() const {
  std::vector<std::string> out;
  Statement s(db_, path_, "SELECT name FROM layers ORDER BY id");
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
  const auto synchronized = meta.find("synchronized");
  out.modules = modules_from_wiring(out.wiring, {names.begin(), names.end()},
                                    synchronized != meta.end() && synchronized->second == "true");
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
              "WHERE (?1 = '' OR l.name = ?1) ORDER BY c.step, c.layer, c.sync_point");
  s.bind(1, filter.layer);
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
  while (s.next()) {
    const auto step = s.integer(0);
    auto layer = s.text(1);
    const auto sync_point = s.integer(2);
    if (!group.empty() && (step != row.step || layer != row.layer || sync_point != row.sync_point))
      flush();
    row.step = step;
    row.layer = std::move(layer);
    row.sync_point = sync_point;
    group.push_back({key_of_stored(s.integer(3), path_),
                     s.doubles(4, filter.first_channel, filter.last_channel),
                     s.doubles(5, filter.first_channel, filter.last_channel)});
  }
  if (!group.empty()) flush();
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
