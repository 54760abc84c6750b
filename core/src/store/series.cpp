#include "replicascope/store/series.h"

#include <map>

namespace replicascope::store {

std::string Series::name() const {
  const auto who = copy >= 0 ? "copy " + copy_label(copy) : copy_label(copy);
  return who + ", channel " + std::to_string(channel);
}

std::vector<Series> statistic_series(const RunReader& run, const std::string& layer,
                                     const std::string& statistic, int64_t first_channel,
                                     int64_t last_channel, int64_t sync_point) {
  if (statistic != "mean" && statistic != "var") {
    throw StoreError("expected the statistic mean or var, got '" + statistic + "'");
  }
  run.require_layer(layer);
  // Copies in order, then synchronized (-1), then running (-2).
  auto rank = [](int copy) { return copy >= 0 ? copy : 1000000 - copy; };
  std::map<std::pair<int, int64_t>, Series> lines;
  StatFilter filter;
  filter.layer = layer;
  filter.statistic = statistic;
  filter.first_channel = first_channel;
  filter.last_channel = last_channel;
  run.for_each_stat(filter, [&](const StatRow& r) {
    if (r.sync_point != sync_point) return;
    auto& s = lines[{rank(r.copy), r.channel}];
    s.copy = r.copy;
    s.channel = r.channel;
    s.steps.push_back(static_cast<double>(r.step));
    s.values.push_back(r.value);
  });
  std::vector<Series> out;
  for (auto& [key, series] : lines) out.push_back(std::move(series));
  return out;
}

}  // namespace replicascope::store
