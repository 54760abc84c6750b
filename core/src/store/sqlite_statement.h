// SPDX-License-Identifier: MIT
// SQLite helpers of the run store (internal): errors that name the run, and a prepared
// statement that finalizes itself.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "replicascope/base/utf8.h"
#include "replicascope/store/run_model.h"
#include "replicascope/store/run_reader.h"

namespace replicascope::store::detail {

// How long a writer waits for another process's lock on the run (the Python recorder's too).
constexpr int kBusyMilliseconds = 10000;

// What a SQLite error means for a run's writer, beyond SQLite's own words.
inline std::string busy_hint(sqlite3* db) {
  return db && (sqlite3_errcode(db) & 0xff) == SQLITE_BUSY
             ? " (another process holds the run's lock and kept it longer than 10 s; expected "
               "the run to be written by its writer alone)"
             : "";
}

[[noreturn]] inline void fail(sqlite3* db, const std::string& path, const std::string& what) {
  throw StoreError("run '" + path + "': " + what +
                   (db ? std::string(": ") + sqlite3_errmsg(db) + busy_hint(db) : ""));
}

inline void exec(sqlite3* db, const std::string& path, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw StoreError("run '" + path + "': " + message + busy_hint(db));
  }
}

// Opens `file` (a path or a file: URI) for the run `run`, or throws StoreError naming it.
inline sqlite3* open_database(const std::string& file, const std::string& run, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw StoreError("run '" + run + "': cannot open it: " + message);
  }
  return db;
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
  Statement& bind_blob(int i, const void* data, size_t bytes) {
    sqlite3_bind_blob(stmt_, i, data, static_cast<int>(bytes), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // Text is stored as valid UTF-8 (schema version 5): bytes that are not are escaped.
  Statement& bind(int i, const std::string& v) {
    const auto text = valid_utf8(v);
    sqlite3_bind_text(stmt_, i, text.c_str(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Runs a statement that returns no rows, then resets it for the next use.
  void run() {
    if (sqlite3_step(stmt_) != SQLITE_DONE) fail(db_, path_, "cannot write");
    sqlite3_reset(stmt_);
  }
  // Back to the start, for a query run again with other bindings.
  void reset() { sqlite3_reset(stmt_); }
  bool next() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail(db_, path_, "cannot read");
    return false;
  }
  // Names the row being read in the errors of the accessors below, e.g. "table steps (step 7)"
  // (row_in); a damaged value is an error naming the run and the row, never a silent 0.
  void row(std::string where) { row_ = std::move(where); }
  const std::string& where() const { return row_; }

  int64_t integer(int i) const {
    if (sqlite3_column_type(stmt_, i) != SQLITE_INTEGER) damaged(i, "an integer");
    return sqlite3_column_int64(stmt_, i);
  }
  // NULL reads as NaN: SQLite stores a NaN bound to a REAL column as NULL.
  double real(int i) const {
    const int type = sqlite3_column_type(stmt_, i);
    if (type == SQLITE_NULL) return std::nan("");
    if (type != SQLITE_FLOAT && type != SQLITE_INTEGER) damaged(i, "a number or NULL");
    return sqlite3_column_double(stmt_, i);
  }
  bool is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  // How many values a BLOB column of float64s (of float32s, `single`) holds; a value that is
  // not a BLOB of whole values is damaged.
  int64_t value_count(int i, bool single = false) const {
    const int64_t width = single ? 4 : 8;
    if (sqlite3_column_type(stmt_, i) != SQLITE_BLOB ||
        sqlite3_column_bytes(stmt_, i) % width != 0) {
      damaged(i, std::string("a BLOB of ") + (single ? "float32" : "float64") + " values");
    }
    return sqlite3_column_bytes(stmt_, i) / width;
  }
  // Values [first, last] of a BLOB column of float64s (or of float32s, `single`), clamped to
  // what it holds.
  std::vector<double> reals(int i, int64_t first, int64_t last, bool single = false) const {
    const int64_t width = single ? 4 : 8;
    const int64_t n = value_count(i, single);
    const auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, i));
    std::vector<double> out;
    for (int64_t c = std::max<int64_t>(first, 0); c <= last && c < n; ++c) {
      if (single) {
        float value;
        std::memcpy(&value, data + c * width, sizeof(value));
        out.push_back(value);
      } else {
        double value;
        std::memcpy(&value, data + c * width, sizeof(value));
        out.push_back(value);
      }
    }
    return out;
  }
  // The bytes of a BLOB column.
  std::string bytes(int i) const {
    if (sqlite3_column_type(stmt_, i) != SQLITE_BLOB) damaged(i, "a BLOB");
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
    return data ? std::string(data, static_cast<size_t>(sqlite3_column_bytes(stmt_, i)))
                : std::string();
  }
  // Text as valid UTF-8 (older runs may hold other bytes); NULL reads as "".
  std::string text(int i) const {
    const int type = sqlite3_column_type(stmt_, i);
    if (type == SQLITE_BLOB) damaged(i, "text");
    const auto* t = sqlite3_column_text(stmt_, i);
    return t ? valid_utf8({reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, i))})
             : "";
  }
  // "run 'P': damaged row in table T (step S, layer 'L'): COLUMN holds text, expected E".
  [[noreturn]] void damaged(int i, const std::string& expected) const;

 private:
  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string row_;
};

// "table channel_stats (step 5, layer 'features.1')": where a damaged value was, for
// Statement::row. A negative step or an empty layer is left out.
std::string row_in(const char* table, int64_t step = -1, const std::string& layer = "");

// Throws the damaged-row error of Statement::damaged with a message of the caller's.
[[noreturn]] void damaged_row(const std::string& path, const std::string& row,
                              const std::string& what);

// The model's tables of a version-2 run (run_model.cpp): written inside the writer's first
// transaction, read by RunReader::model().
void write_model_tables(sqlite3* db, const std::string& path, const RunModel& model);
RunModel read_model_tables(sqlite3* db, const std::string& path);

}  // namespace replicascope::store::detail
