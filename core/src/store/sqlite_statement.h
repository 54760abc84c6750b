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

#include "replicascope/store/run_model.h"
#include "replicascope/store/run_reader.h"

namespace replicascope::store::detail {

[[noreturn]] inline void fail(sqlite3* db, const std::string& path, const std::string& what) {
  throw StoreError("run '" + path + "': " + what +
                   (db ? std::string(": ") + sqlite3_errmsg(db) : ""));
}

inline void exec(sqlite3* db, const std::string& path, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw StoreError("run '" + path + "': " + message);
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
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.c_str(), -1, SQLITE_TRANSIENT);
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
  int64_t integer(int i) const { return sqlite3_column_int64(stmt_, i); }
  // NULL reads as NaN: SQLite stores a NaN bound to a REAL column as NULL.
  double real(int i) const {
    return sqlite3_column_type(stmt_, i) == SQLITE_NULL ? std::nan("")
                                                        : sqlite3_column_double(stmt_, i);
  }
  bool is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  // Values [first, last] of a BLOB column of float64s (or of float32s, `single`), clamped to
  // what it holds.
  std::vector<double> reals(int i, int64_t first, int64_t last, bool single = false) const {
    const auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, i));
    const int64_t width = single ? 4 : 8;
    const int64_t n = sqlite3_column_bytes(stmt_, i) / width;
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
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
    return data ? std::string(data, static_cast<size_t>(sqlite3_column_bytes(stmt_, i)))
                : std::string();
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

// The model's tables of a version-2 run (run_model.cpp): written inside the writer's first
// transaction, read by RunReader::model().
void write_model_tables(sqlite3* db, const std::string& path, const RunModel& model);
RunModel read_model_tables(sqlite3* db, const std::string& path);

}  // namespace replicascope::store::detail
