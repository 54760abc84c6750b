// SPDX-License-Identifier: MIT
// RunReader::for_each_sync_point: a run read a step at a time, every layer's sync points with
// their summaries, in one pass in the tables' own order (step, layer, sync point).
#include <algorithm>
#include <climits>
#include <map>

#include "replicascope/store/run_reader.h"
#include "sqlite_statement.h"
#include "stored_values.h"

namespace replicascope::store {

using detail::Statement;

namespace {

void sort_by_key(std::vector<KeySummary>& summaries) {
  std::sort(summaries.begin(), summaries.end(),
            [](const KeySummary& a, const KeySummary& b) { return a.key < b.key; });
}

}  // namespace

void RunReader::for_each_sync_point(const std::function<void(const SyncPointRow&)>& fn) const {
  std::map<int64_t, std::string> names;
  {
    Statement s(db_, path_, "SELECT id, name FROM layers");
    s.row(detail::row_in("layers"));
    while (s.next()) names[s.integer(0)] = s.text(1);
  }
  // Version 4 keeps every sync point's summaries beside it, under the same key; older runs
  // kept every channel of every step, which the summaries are the means over.
  const bool summarized = version_ >= 4;
  Statement s(db_, path_,
              summarized ? "SELECT p.step, p.layer, p.sync_point, p.count, p.divergence, "
                           "p.worst_channel, m.copies FROM sync_points p LEFT JOIN summaries m "
                           "ON m.step = p.step AND m.layer = p.layer AND m.sync_point = "
                           "p.sync_point ORDER BY p.step, p.layer, p.sync_point"
                         : "SELECT step, layer, sync_point, count, divergence, -1, NULL "
                           "FROM sync_points ORDER BY step, layer, sync_point");
  Statement channels(db_, path_,
                     "SELECT copy, count, mean, var FROM channel_stats "
                     "WHERE step = ? AND layer = ? AND sync_point = ?");
  SyncPointRow row;
  while (s.next()) {
    s.row(detail::row_in("sync_points"));
    row.step = s.integer(0);
    const auto id = s.integer(1);
    const auto name = names.find(id);
    if (name == names.end()) {
      detail::damaged_row(path_, s.where(),
                          "layer " + std::to_string(id) + " is not in the table layers");
    }
    row.layer = name->second;
    s.row(detail::row_in("sync_points", row.step, row.layer));
    row.sync_point = s.integer(2);
    row.count = s.integer(3);
    row.divergence = s.real(4);
    row.worst_channel = s.integer(5);
    row.summaries.clear();
    if (summarized && !s.is_null(6)) {
      s.row(detail::row_in("summaries", row.step, row.layer));
      row.summaries = detail::summaries_of_blob(s.bytes(6), path_, s.where());
    } else if (!summarized) {
      channels.bind(1, row.step).bind(2, id).bind(3, row.sync_point);
      channels.row(detail::row_in("channel_stats", row.step, row.layer));
      while (channels.next()) {
        row.summaries.push_back({detail::key_of_stored(channels.integer(0), path_),
                                 channels.integer(1),
                                 mean_over_channels(channels.reals(2, 0, INT64_MAX)),
                                 mean_over_channels(channels.reals(3, 0, INT64_MAX))});
      }
      channels.reset();
    }
    sort_by_key(row.summaries);
    fn(row);
  }
}

}  // namespace replicascope::store
