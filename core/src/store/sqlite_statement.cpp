// SPDX-License-Identifier: MIT
#include "sqlite_statement.h"

namespace replicascope::store::detail {
namespace {

const char* what_it_holds(int type) {
  switch (type) {
    case SQLITE_INTEGER:
      return "an integer";
    case SQLITE_FLOAT:
      return "a real number";
    case SQLITE_TEXT:
      return "text";
    case SQLITE_BLOB:
      return "a BLOB";
    default:
      return "NULL";
  }
}

}  // namespace

std::string row_in(const char* table, int64_t step, const std::string& layer) {
  std::string where;
  if (step >= 0) where = "step " + std::to_string(step);
  if (!layer.empty()) where += (where.empty() ? "" : ", ") + ("layer '" + layer + "'");
  return std::string("table ") + table + (where.empty() ? "" : " (" + where + ")");
}

void damaged_row(const std::string& path, const std::string& row, const std::string& what) {
  throw StoreError("run '" + path + "': damaged row" + (row.empty() ? "" : " in " + row) + ": " +
                   what);
}

void Statement::damaged(int i, const std::string& expected) const {
  const int type = sqlite3_column_type(stmt_, i);
  std::string holds = what_it_holds(type);
  if (type == SQLITE_BLOB)
    holds += " of " + std::to_string(sqlite3_column_bytes(stmt_, i)) + " bytes";
  const char* column = sqlite3_column_name(stmt_, i);
  damaged_row(
      path_, row_,
      std::string(column ? column : "a value") + " holds " + holds + ", expected " + expected);
}

}  // namespace replicascope::store::detail
