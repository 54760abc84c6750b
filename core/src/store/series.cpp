// SPDX-License-Identifier: MIT
#include "replicascope/store/series.h"

namespace replicascope::store {

std::string Series::name() const {
  return key.label() + (channel == kOverChannels ? ", mean over channels"
                                                 : ", channel " + std::to_string(channel));
}

bool Series::sparse() const {
  for (size_t i = 1; i < steps.size(); ++i) {
    if (steps[i] - steps[i - 1] > 1) return true;
  }
  return false;
}

void SeriesBuilder::add(int64_t step, const std::string& layer, int64_t sync_point,
                        const SeriesKey& key, int64_t channel, Statistic statistic, double value) {
  const auto& s = selection_;
  const bool wanted = s.over_channels ? channel == kOverChannels
                                      : channel >= s.first_channel && channel <= s.last_channel;
  if (layer != s.layer || sync_point != s.sync_point || statistic != s.statistic || !wanted) return;
  auto [it, fresh] = index_.emplace(std::make_pair(key, channel), series_.size());
  if (fresh) series_.push_back({key, channel, {}, {}});
  auto& series = series_[it->second];
  series.steps.push_back(static_cast<double>(step));
  series.values.push_back(value);
}

void SeriesBuilder::add(const replicascope::StepRecord& record) {
  for (const auto& layer : record.layers) {
    if (layer.layer != selection_.layer || layer.sync_point != selection_.sync_point) continue;
    if (selection_.over_channels) {
      for (const auto& s : summarize(layer)) {
        add(record.step, layer.layer, layer.sync_point, s.key, kOverChannels, selection_.statistic,
            selection_.statistic == Statistic::kMean ? s.mean : s.var);
      }
      continue;
    }
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
  if (selection.over_channels) {
    run.for_each_summary(selection.layer, [&](const SummaryRow& r) {
      builder.add(r.step, selection.layer, r.sync_point, r.summary.key, kOverChannels,
                  selection.statistic,
                  selection.statistic == Statistic::kMean ? r.summary.mean : r.summary.var);
    });
    return builder.series();
  }
  run.for_each_stat(filter, [&](const StatRow& r) {
    builder.add(r.step, r.layer, r.sync_point, r.key, r.channel, r.statistic, r.value);
  });
  return builder.series();
}

std::optional<replicascope::LayerStats> layer_at_step(const RunReader& run,
                                                      const std::string& layer, int64_t sync_point,
                                                      int64_t step) {
  StatFilter filter;
  filter.layer = layer;
  filter.first_step = filter.last_step = step;
  replicascope::LayerStats out;
  out.layer = layer;
  out.sync_point = sync_point;
  bool any = false;
  run.for_each_stat(filter, [&](const StatRow& r) {
    if (r.sync_point != sync_point) return;
    any = true;
    std::vector<double>* mean = nullptr;
    std::vector<double>* var = nullptr;
    switch (r.key.kind) {
      case SeriesKey::Kind::kSynchronized:
        mean = &out.mean, var = &out.var;
        break;
      case SeriesKey::Kind::kRunning:
        mean = &out.running_mean, var = &out.running_var;
        break;
      default: {
        auto& list = out.records_of(r.key.kind);
        if (list.empty() || list.back().copy != r.key.index)
          list.push_back({r.key.index, 0, {}, {}});
        mean = &list.back().mean, var = &list.back().var;
      }
    }
    (r.statistic == Statistic::kMean ? *mean : *var).push_back(r.value);
  });
  if (!any) return std::nullopt;
  return out;
}

}  // namespace replicascope::store
