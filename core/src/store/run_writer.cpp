// SPDX-License-Identifier: MIT
#include "replicascope/store/run_writer.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "replicascope/base/file_checks.h"
#include "run_schema.h"
#include "sqlite_statement.h"
#include "stored_values.h"

namespace replicascope::store {

using detail::exec;
using detail::open_database;
using detail::Statement;
using detail::stored_copy;
using detail::stored_single;

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
  Statement step, layer, settings, eval_calls, event, sync_point, summary, deviation, channel,
      forget_channels, forget_detail, add_detail;
  Statements(sqlite3* db, const std::string& path)
      : step(db, path, "INSERT INTO steps VALUES(?,?,?,?,?,?,?)"),
        layer(db, path, "INSERT INTO layers(name) VALUES(?)"),
        settings(db, path, "INSERT INTO layer_settings VALUES(?,?,?)"),
        eval_calls(db, path, "INSERT INTO eval_calls VALUES(?,?,?)"),
        event(db, path, "INSERT INTO events VALUES(?,?,?,?,?,?)"),
        sync_point(db, path, "INSERT INTO sync_points VALUES(?,?,?,?,?,?)"),
        summary(db, path, "INSERT INTO summaries VALUES(?,?,?,?)"),
        deviation(db, path, "INSERT INTO deviations VALUES(?,?,?,?)"),
        channel(db, path, "INSERT INTO channel_stats VALUES(?,?,?,?,?,?,?)"),
        forget_channels(db, path, "DELETE FROM channel_stats WHERE step = ?"),
        forget_detail(db, path, "UPDATE steps SET detail = 0 WHERE step = ?"),
        add_detail(db, path, "UPDATE steps SET detail = 1 WHERE step = ?") {}
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

// Ends the transaction SQLite left open after a failure, if any, ignoring the outcome: after
// SQLITE_FULL SQLite has already rolled back, and a second ROLLBACK's error would hide the first.
void roll_back_if_open(sqlite3* db) {
  if (db && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
}

// The new run's schema, metadata and model tables, in one transaction.
void write_schema(sqlite3* db, const std::string& path, const Metadata& metadata,
                  const RunModel& model, const DetailOptions& detail) {
  // WAL: a step's transaction is in the file once committed, and a kill mid-step leaves the
  // database as of the last commit. The mode is kept in the file.
  exec(db, path, "PRAGMA journal_mode=WAL");
  exec(db, path, "BEGIN");
  exec(db, path, detail::kRunSchema);
  exec(db, path, ("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
  exec(db, path, ("PRAGMA application_id=" + std::to_string(kRunApplicationId)).c_str());
  Statement meta(db, path, "INSERT INTO meta VALUES(?,?)");
  auto all = metadata;
  all["schema_version"] = std::to_string(kSchemaVersion);
  all["sqlite"] = sqlite3_libversion();
  all["detail_steps"] = detail_steps_text(detail.steps);
  all["detail_every"] = std::to_string(detail.every);
  for (const auto& [key, value] : all) meta.bind(1, key).bind(2, value).run();
  detail::write_model_tables(db, path, model);
  exec(db, path, "COMMIT");
}

}  // namespace

RunWriter::RunWriter(const std::string& path, const Metadata& metadata, const RunModel& model,
                     const DetailOptions& detail)
    : path_(path), detail_(detail) {
  std::error_code error;
  if (path.empty()) throw StoreError("run '': expected a file name to record to");
  if (path == ":memory:" || path.rfind("file:", 0) == 0) {
    // SQLite would take these for an in-memory database or a URI: nothing would be kept.
    throw StoreError("run '" + path + "': a run is a file, and SQLite reads this name as " +
                     (path == ":memory:" ? "an in-memory database" : "a URI") +
                     "; expected a file name (./" + path + " names a file so called)");
  }
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
    write_schema(db, path, metadata, model, detail);
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
    // Another process holding the write lock for a moment (a reader's checkpoint, a copy tool)
    // is waited for, as the Python recorder waits, before a step fails saying so.
    sqlite3_busy_timeout(db_, detail::kBusyMilliseconds);
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
  try {
    close();
  } catch (const StoreError&) {
    // what close() could not fold stays in the -wal, which SQLite reads with the file
  }
}

int64_t RunWriter::steps_held() const {
  if (!db_) throw StoreError("run '" + path_ + "': closed");
  Statement count(db_, path_, "SELECT COUNT(*) FROM steps");
  count.next();
  return count.integer(0);
}

void RunWriter::close() {
  if (!db_) return;
  statements_.reset();
  // Closing the last connection would fold the log too, but not while a reader of this process
  // (the GUI's) has the file open: TRUNCATE folds it whatever other connections there are.
  const int folded =
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  const std::string why = folded == SQLITE_OK ? "" : sqlite3_errmsg(db_);
  const int closed = sqlite3_close(db_);
  if (closed == SQLITE_OK) db_ = nullptr;
  if (folded != SQLITE_OK || closed != SQLITE_OK) {
    throw StoreError("run '" + path_ +
                     "': cannot close it whole: " + (why.empty() ? sqlite3_errstr(closed) : why));
  }
}

int64_t RunWriter::layer_id(const std::string& name,
                            const std::optional<replicascope::BatchNormSettings>& settings) {
  auto it = layer_ids_.find(name);
  if (it != layer_ids_.end()) return it->second;
  statements_->layer.bind(1, name).run();
  const int64_t id = layer_ids_[name] = sqlite3_last_insert_rowid(db_);
  if (settings) {  // version 6: with the layer's first row
    auto& row = statements_->settings;
    row.bind(1, id);
    if (settings->momentum) {
      row.bind(2, *settings->momentum);
    } else {
      row.bind_null(2);
    }
    row.bind(3, settings->eps).run();
  }
  return id;
}

void RunWriter::add_event(const RunEvent& event) {
  if (!db_) throw StoreError("run '" + path_ + "': closed; no event can be added");
  auto& row = statements_->event;
  row.bind(1, event.step).bind(2, event.kind);
  event.layer.empty() ? row.bind_null(3) : row.bind(3, event.layer);
  event.sync_point ? row.bind(4, *event.sync_point) : row.bind_null(4);
  event.series ? row.bind(5, stored_copy(*event.series)) : row.bind_null(5);
  row.bind(6, event.message).run();  // a statement of its own: SQLite commits it
}

DetailPolicy& RunWriter::policy(const replicascope::StepRecord& first) {
  if (policy_) return *policy_;
  int64_t capacity = detail_.steps;
  if (capacity == DetailOptions::kAuto) {
    int64_t bytes = 0;  // what the step's channel_stats rows take, near enough
    for (const auto& layer : first.layers) {
      for (const auto& key : layer.keys()) {
        const auto* mean = layer.values(key, Statistic::kMean);
        if (mean)
          bytes += detail::stored_row_bytes(2 * static_cast<int64_t>(mean->size()) *
                                            (stored_single(key, kSchemaVersion) ? 4 : 8));
      }
    }
    capacity = auto_detail_steps(bytes);
  }
  // The capacity the policy takes (what kAuto came to), beside what was asked for; in its own
  // transaction, before the first step's (a failure leaves no policy: the next step tries again).
  Statement meta(db_, path_, "INSERT OR IGNORE INTO meta VALUES('detail_capacity', ?)");
  meta.bind(1, detail_steps_text(capacity)).run();
  return policy_.emplace(capacity, detail_.every);
}

void RunWriter::write_detail(const replicascope::StepRecord& r, int64_t id,
                             const replicascope::LayerStats& s) {
  for (const auto& key : s.keys()) {
    const auto* mean = s.values(key, Statistic::kMean);
    const auto* var = s.values(key, Statistic::kVar);
    if (!mean || !var) continue;  // no running statistics
    const bool single = stored_single(key, kSchemaVersion);
    const auto mean_bytes = detail::real_blob(*mean, single);
    const auto var_bytes = detail::real_blob(*var, single);
    auto& c = statements_->channel;
    c.bind(1, r.step).bind(2, id).bind(3, s.sync_point).bind(4, stored_copy(key));
    c.bind(5, s.count_of(key)).bind_blob(6, mean_bytes.data(), mean_bytes.size());
    c.bind_blob(7, var_bytes.data(), var_bytes.size()).run();
  }
}

void RunWriter::pin_first_nonfinite(DetailPolicy& chooser, int64_t step) {
  chooser.pin(step);
  if (!before_nonfinite_.step) return;
  const bool had_detail = chooser.keeps(before_nonfinite_.step);
  chooser.pin(before_nonfinite_.step);
  if (had_detail || !before_nonfinite_.record) return;
  const auto& record = *before_nonfinite_.record;
  for (const auto& layer : record.layers) write_detail(record, layer_id(layer.layer), layer);
  statements_->add_detail.bind(1, record.step).run();
}

void RunWriter::remember_before_nonfinite(const replicascope::StepRecord& r, bool kept,
                                          bool nonfinite) {
  if (before_nonfinite_.seen) return;
  before_nonfinite_.seen = nonfinite;
  before_nonfinite_.step = r.step;
  before_nonfinite_.record.reset();
  // Its channels, in case the next step is the first non-finite one (a copy per step only
  // while the run is finite and this step's detail was not kept).
  if (!kept && !nonfinite) before_nonfinite_.record = r;
}

void RunWriter::append(const replicascope::StepRecord& r) {
  if (!db_) throw StoreError("run '" + path_ + "': closed; no step can be appended");
  // What a failed step changed is undone with its transaction, and here: the layer ids it
  // inserted (the committed ones stay, or every later step would insert their names again) and
  // the policy's choice (a few hundred step numbers: cheap beside the step's inserts).
  const auto committed = layer_ids_;
  auto& chooser = policy(r);
  const DetailPolicy before = chooser;
  const auto nonfinite = replicascope::nonfinite_part(r);
  const bool first_nonfinite = !nonfinite.empty() && !before_nonfinite_.seen;
  bool kept = false;
  exec(db_, path_, "BEGIN");
  try {
    // The first non-finite step and the step before keep their channels: where a diagnosis of
    // the NaN looks (docs/run-format.md).
    if (first_nonfinite) pin_first_nonfinite(chooser, r.step);
    const auto decision = chooser.admit(r.step);
    for (const int64_t old : decision.evict) {
      statements_->forget_channels.bind(1, old).run();
      statements_->forget_detail.bind(1, old).run();
    }
    statements_->step.bind(1, r.step).bind(2, r.epoch).bind(3, r.loss).bind(4, r.accuracy);
    statements_->step.bind(5, r.seconds);
    if (nonfinite.empty()) {
      statements_->step.bind_null(6);
    } else {
      statements_->step.bind(6, nonfinite);
    }
    statements_->step.bind(7, int64_t{decision.keep}).run();
    for (const auto& calls : r.eval_calls)
      statements_->eval_calls.bind(1, r.step).bind(2, calls.module).bind(3, calls.calls).run();
    for (const auto& layer : r.layers) {
      const int64_t id = layer_id(layer.layer, layer.settings);
      auto& p = statements_->sync_point;
      p.bind(1, r.step).bind(2, id).bind(3, layer.sync_point).bind(4, layer.count);
      p.bind(5, layer.divergence).bind(6, layer.worst_channel).run();
      const auto summary = detail::summaries_blob(summarize(layer));
      statements_->summary.bind(1, r.step).bind(2, id).bind(3, layer.sync_point);
      statements_->summary.bind_blob(4, summary.data(), summary.size()).run();
      if (decision.keep) write_detail(r, id, layer);
    }
    for (const size_t at : deviation_layers(r)) {
      const auto row = detail::deviation_row(deviations(r.layers[at]));
      if (row.copies.empty()) continue;
      auto& d = statements_->deviation;
      d.bind(1, r.step).bind(2, layer_id(r.layers[at].layer));
      d.bind_blob(3, row.copies.data(), row.copies.size()).bind_blob(4, row.u.data(), row.u.size());
      d.run();
    }
    exec(db_, path_, "COMMIT");
    kept = decision.keep;
  } catch (...) {
    layer_ids_ = committed;
    chooser = before;
    roll_back_if_open(db_);
    throw;
  }
  remember_before_nonfinite(r, kept, !nonfinite.empty());  // committed: what comes next needs
}

}  // namespace replicascope::store
