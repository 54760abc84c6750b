// SPDX-License-Identifier: MIT
#include "replicascope/store/run_model.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "replicascope/base/usage.h"
#include "sqlite_statement.h"

namespace replicascope::store {
namespace {

constexpr const char* kTextHeader = "replicascope-wiring 1";

[[noreturn]] void malformed(const std::string& what) {
  throw std::invalid_argument("wiring metadata: " + what);
}

int to_int(const std::string& text, const std::string& what) {
  try {
    size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used != text.size()) malformed("expected a number for " + what + ", got '" + text + "'");
    return value;
  } catch (const std::logic_error&) {
    malformed("expected a number for " + what + ", got '" + text + "'");
  }
}

}  // namespace

std::vector<ModelModule> modules_from_wiring(const replicascope::Wiring& wiring,
                                             const std::set<std::string>& recorded,
                                             bool synchronized) {
  std::vector<ModelModule> modules;
  auto add = [&](const std::string& name, const std::string& type, int depth) {
    ModelModule m;
    m.name = name;
    m.type = m.full_type = type;
    m.depth = depth;
    m.own_parameter_count = m.subtree_parameter_count = -1;
    m.synchronized = synchronized && recorded.count(name) > 0;
    modules.push_back(m);
  };
  if (wiring.rows.empty()) {
    add("", "run", 0);
    for (const auto& layer : recorded) add(layer, "recorded layer", 1);
    return modules;
  }
  for (const auto& row : wiring.rows) {
    const auto dots = std::count(row.module.begin(), row.module.end(), '.');
    add(row.module, row.type, row.module.empty() ? 0 : 1 + static_cast<int>(dots));
    modules.back().receives_callbacks = row.expects_callbacks;
  }
  return modules;
}

std::string wiring_to_text(const replicascope::Wiring& wiring) {
  // Tab-separated lines; names of modules and types hold neither tabs nor newlines.
  std::ostringstream out;
  out << kTextHeader << "\n" << wiring.copies_per_rank;
  for (const auto& device : wiring.devices) out << "\t" << device;
  out << "\n";
  for (const auto& row : wiring.rows) {
    out << row.context_id << "\t" << row.expects_callbacks << "\t" << row.module << "\t"
        << row.type;
    for (const auto& cell : row.copies) {
      out << "\t" << cell.present << "," << cell.called << "," << cell.order;
    }
    out << "\n";
  }
  return out.str();
}

replicascope::Wiring wiring_from_text(const std::string& text) {
  const auto lines = split(text, '\n');
  if (lines.empty() || lines[0] != kTextHeader) {
    malformed("expected a first line '" + std::string(kTextHeader) + "'");
  }
  replicascope::Wiring wiring;
  if (lines.size() < 2) malformed("expected a line of devices");
  const auto head = split(lines[1], '\t');
  if (head.front().empty()) malformed("expected a line of devices, got an empty line");
  wiring.copies_per_rank = to_int(head.at(0), "copies per rank");
  wiring.devices.assign(head.begin() + 1, head.end());
  const auto columns = wiring.devices.size();
  if (wiring.copies_per_rank <= 0 || columns % static_cast<size_t>(wiring.copies_per_rank) != 0) {
    malformed(std::to_string(columns) + " devices do not make whole ranks of " +
              std::to_string(wiring.copies_per_rank) + " copies");
  }
  for (size_t i = 2; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const auto fields = split(lines[i], '\t');
    if (fields.size() != 4 + columns) {
      malformed("line " + std::to_string(i + 1) + " has " + std::to_string(fields.size()) +
                " fields; expected " + std::to_string(4 + columns));
    }
    replicascope::WiringRow row;
    row.context_id = to_int(fields[0], "a context id");
    row.expects_callbacks = fields[1] == "1";
    row.module = fields[2];
    row.type = fields[3];
    for (size_t c = 0; c < columns; ++c) {
      const auto parts = split(fields[4 + c], ',');
      if (parts.size() != 3)
        malformed("expected a cell 'present,called,order', got '" + fields[4 + c] + "'");
      row.copies.push_back({parts[0] == "1", parts[1] == "1", to_int(parts[2], "a call order")});
    }
    wiring.rows.push_back(std::move(row));
  }
  return wiring;
}

namespace detail {

void write_model_tables(sqlite3* db, const std::string& path, const RunModel& model) {
  Statement module(db, path, "INSERT INTO modules VALUES(?,?,?,?,?,?,?,?,?)");
  for (size_t i = 0; i < model.modules.size(); ++i) {
    const auto& m = model.modules[i];
    module.bind(1, static_cast<int64_t>(i)).bind(2, m.name).bind(3, m.type).bind(4, m.full_type);
    module.bind(5, int64_t{m.depth}).bind(6, m.own_parameter_count);
    module.bind(7, m.subtree_parameter_count).bind(8, int64_t{m.synchronized});
    module.bind(9, int64_t{m.receives_callbacks}).run();
  }
  const auto& wiring = model.wiring;
  const int per_rank = std::max(1, wiring.copies_per_rank);
  Statement column(db, path, "INSERT INTO wiring_columns VALUES(?,?,?,?)");
  for (size_t c = 0; c < wiring.devices.size(); ++c) {
    const auto id = static_cast<int64_t>(c);
    column.bind(1, id).bind(2, wiring.devices[c]).bind(3, id / per_rank).bind(4, id % per_rank);
    column.run();
  }
  Statement row(db, path, "INSERT INTO wiring_rows VALUES(?,?,?,?)");
  Statement cell(db, path, "INSERT INTO wiring_cells VALUES(?,?,?,?,?)");
  for (const auto& r : wiring.rows) {
    row.bind(1, int64_t{r.context_id}).bind(2, r.module).bind(3, r.type);
    row.bind(4, int64_t{r.expects_callbacks}).run();
    for (size_t c = 0; c < r.copies.size(); ++c) {
      const auto& x = r.copies[c];
      cell.bind(1, int64_t{r.context_id}).bind(2, static_cast<int64_t>(c));
      cell.bind(3, int64_t{x.present}).bind(4, int64_t{x.called}).bind(5, int64_t{x.order}).run();
    }
  }
}

RunModel read_model_tables(sqlite3* db, const std::string& path) {
  RunModel out;
  Statement modules(db, path,
                    "SELECT name, type, full_type, depth, own_parameters, subtree_parameters, "
                    "synchronized, receives_callbacks FROM modules ORDER BY id");
  modules.row(row_in("modules"));
  while (modules.next()) {
    ModelModule m;
    m.name = modules.text(0);
    m.type = modules.text(1);
    m.full_type = modules.text(2);
    m.depth = static_cast<int>(modules.integer(3));
    m.own_parameter_count = modules.integer(4);
    m.subtree_parameter_count = modules.integer(5);
    m.synchronized = modules.integer(6) != 0;
    m.receives_callbacks = modules.integer(7) != 0;
    out.modules.push_back(std::move(m));
  }
  auto& wiring = out.wiring;
  Statement columns(db, path, "SELECT device, rank FROM wiring_columns ORDER BY id");
  columns.row(row_in("wiring_columns"));
  while (columns.next()) {
    wiring.devices.push_back(columns.text(0));
    if (columns.integer(1) == 0) ++wiring.copies_per_rank;
  }
  Statement rows(db, path,
                 "SELECT context_id, module, type, expects_callbacks FROM wiring_rows "
                 "ORDER BY context_id");
  rows.row(row_in("wiring_rows"));
  Statement cells(db, path,
                  "SELECT column_id, present, called, call_order FROM wiring_cells "
                  "WHERE context_id = ? ORDER BY column_id");
  cells.row(row_in("wiring_cells"));
  while (rows.next()) {
    replicascope::WiringRow r;
    r.context_id = static_cast<int>(rows.integer(0));
    r.module = rows.text(1);
    r.type = rows.text(2);
    r.expects_callbacks = rows.integer(3) != 0;
    r.copies.resize(wiring.devices.size());
    cells.bind(1, int64_t{r.context_id});
    while (cells.next()) {
      const auto c = cells.integer(0);
      if (c < 0 || c >= static_cast<int64_t>(r.copies.size())) {
        throw StoreError("run '" + path + "': wiring cell of column " + std::to_string(c) +
                         " beyond the " + std::to_string(r.copies.size()) + " columns");
      }
      r.copies[c] = {cells.integer(1) != 0, cells.integer(2) != 0,
                     static_cast<int>(cells.integer(3))};
    }
    cells.reset();
    wiring.rows.push_back(std::move(r));
  }
  return out;
}

}  // namespace detail

}  // namespace replicascope::store
