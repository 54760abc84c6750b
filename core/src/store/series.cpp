#include "replicascope/store/series.h"

namespace replicascope::store {

std::string Series::name() const {
  return key.label() + ", channel " + std::to_string(channel);
}

void SeriesBuilder::add(int64_t step, const std::string& layer, int64_t sync_point,
                        const SeriesKey& key, int64_t channel, Statistic statistic, double value) {
  const auto& s = selection_;
  if (layer != s.layer || sync_point != s.sync_point || statistic != s.statistic ||
      channel < s.first_channel || channel > s.last_channel)
    return;
  auto [it, fresh] = index_.emplace(std::make_pair(key, channel), series_.size());
  if (fresh) series_.push_back({key, channel, {}, {}});
  auto& series = series_[it->second];
  series.steps.push_back(static_cast<double>(step));
  series.values.push_back(value);
}

void SeriesBuilder::add(const engine::StepRecord& record) {
  for (const auto& layer : record.layers) {
    if (layer.layer != selection_.layer || layer.sync_point != selection_.sync_point) continue;
    for (const auto& key : layer.keys()) {
      const auto* values = layer.values(key, selection_.statistic);
      if (!values) continue;
      const auto last =
          std::min<int64_t>(selection_.last_channel, static_cast<int64_t>(values->size()) - 1);
      for (int64_t ch = std::max<int64_t>(selection_.first_channel, 0); ch <= last; ++ch) {
        add(record.step, layer.layer, layer.sync_point, key, ch, selection_.statistic,
            (*values)[ch]);
      }
    }
  }
}

void SeriesBuilder::reset(std::vector<Series> series) {
  series_ = std::move(series);
  index_.clear();
  for (size_t i = 0; i < series_.size(); ++i)
    index_.emplace(std::make_pair(series_[i].key, series_[i].channel), i);
}

std::vector<Series> statistic_series(const RunReader& run, const SeriesSelection& selection) {
  StatFilter filter;
  filter.layer = selection.layer;
  filter.statistic = selection.statistic;
  filter.first_channel = selection.first_channel;
  filter.last_channel = selection.last_channel;
  SeriesBuilder builder(selection);
  run.for_each_stat(filter, [&](const StatRow& r) {
    builder.add(r.step, r.layer, r.sync_point, r.key, r.channel, r.statistic, r.value);
  });
  return builder.series();
}

}  // namespace replicascope::store
