#include "history/stats_history.h"

#include <algorithm>
#include <map>

namespace replicascope::ui {

void StatsHistory::clear() {
  steps_.clear();
  loss_.clear();
  accuracy_.clear();
  divergence_.clear();
  live_.reset({});
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
    for (const auto& point : points) {
      series.steps.push_back(static_cast<double>(point.step));
      series.values.push_back(point.value);
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
  if (!awaiting_) live_.add(record);
}

SeriesRequest StatsHistory::select(const store::SeriesSelection& selection,
                                   const QString& overlay_path) {
  live_ = store::SeriesBuilder(selection);
  overlay_.clear();
  awaiting_ = true;
  ++epoch_;
  SeriesRequest request;
  request.generation = ++generation_;
  request.selection = selection;
  request.overlay_path = overlay_path;
  return request;
}

bool StatsHistory::accept(const SeriesReply& reply) {
  if (reply.generation != generation_) return false;
  live_.reset(reply.series);
  overlay_ = reply.overlay;
  overlay_synchronized_ = reply.overlay_synchronized;
  awaiting_ = false;
  ++epoch_;
  return true;
}

}  // namespace replicascope::ui
