// SPDX-License-Identifier: MIT
// Runs damaged after they were written: SQL run on a finished run (a test's own damage, or an
// older version's file made from a new one).
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

namespace replicascope::testing {

inline void damage(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

}  // namespace replicascope::testing
