#include "model/stats_history.h"

#include <algorithm>

namespace replicascope::ui {

bool statistic_value(const engine::LayerStats& stats, const std::string& statistic, int copy,
                     int64_t channel, double& value) {
  const bool mean = statistic == "mean";
  const std::vector<double>* values = nullptr;
  if (copy == store::kSynchronizedCopy) {
    values = mean ? &stats.mean : &stats.var;
  } else if (copy == store::kRunningCopy) {
    values = mean ? &stats.running_mean : &stats.running_var;
  } else {
    for (const auto& c : stats.copies) {
      if (c.copy == copy) values = mean ? &c.mean : &c.var;
    }
  }
  if (!values || channel < 0 || channel >= static_cast<int64_t>(values->size())) return false;
  value = (*values)[channel];
  return true;
}

void StatsHistory::clear() {
  steps_.clear();
  loss_.clear();
  accuracy_.clear();
  divergence_.clear();
  series_.clear();
  overlay_.clear();
  latest_.reset();
  awaiting_ = false;
  ++epoch_;
}

void StatsHistory::load_recorded(const ModelSnapshot& snapshot) {
  clear();
  for (const auto& row : snapshot.recorded_steps) {
    steps_.push_back(static_cast<double>(row.step));
    loss_.push_back(row.loss);
    accuracy_.push_back(row.accuracy);
  }
  for (const auto& [layer, points] : snapshot.recorded_divergence) {
    auto& series = divergence_[layer];
    for (const auto& [step, value] : points) {
      series.steps.push_back(static_cast<double>(step));
      series.values.push_back(value);
    }
  }
}

void StatsHistory::append(const engine::StepRecord& record) {
  const auto step = static_cast<double>(record.step);
  steps_.push_back(step);
  loss_.push_back(record.loss);
  accuracy_.push_back(record.accuracy);
  std::map<std::string, double> worst;
  for (const auto& layer : record.layers) {
    auto [it, fresh] = worst.emplace(layer.layer, layer.divergence);
    if (!fresh) it->second = std::max(it->second, layer.divergence);
  }
  for (const auto& [layer, value] : worst) {
    auto& series = divergence_[layer];
    series.steps.push_back(step);
    series.values.push_back(value);
  }
  if (!awaiting_) append_selected(record);
}

void StatsHistory::append_selected(const engine::StepRecord& record) {
  const engine::LayerStats* stats = nullptr;
  for (const auto& layer : record.layers) {
    if (layer.layer == selection_.layer && layer.sync_point == 0) stats = &layer;
  }
  if (!stats) return;
  if (series_.empty()) {  // the first step of a selection: one series per copy and channel
    std::vector<int> copies;
    for (const auto& c : stats->copies) copies.push_back(c.copy);
    copies.push_back(store::kSynchronizedCopy);
    copies.push_back(store::kRunningCopy);
    for (int copy : copies) {
      for (int64_t ch = selection_.first_channel; ch <= selection_.last_channel; ++ch) {
        double unused = 0;
        if (statistic_value(*stats, selection_.statistic, copy, ch, unused)) {
          series_.push_back({copy, ch, {}, {}});
        }
      }
    }
  }
  for (auto& s : series_) {
    double value = 0;
    if (statistic_value(*stats, selection_.statistic, s.copy, s.channel, value)) {
      s.steps.push_back(static_cast<double>(record.step));
      s.values.push_back(value);
    }
  }
}

SeriesRequest StatsHistory::select(const StatsSelection& selection, const QString& overlay_path) {
  selection_ = selection;
  series_.clear();
  overlay_.clear();
  awaiting_ = true;
  ++epoch_;
  SeriesRequest request;
  request.generation = ++generation_;
  request.layer = selection.layer;
  request.statistic = selection.statistic;
  request.first_channel = selection.first_channel;
  request.last_channel = selection.last_channel;
  request.overlay_path = overlay_path;
  return request;
}

bool StatsHistory::accept(const SeriesReply& reply) {
  if (reply.generation != generation_) return false;
  series_ = reply.series;
  overlay_ = reply.overlay;
  awaiting_ = false;
  ++epoch_;
  return true;
}

}  // namespace replicascope::ui
