// SPDX-License-Identifier: MIT
#include "replicascope/base/records.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace replicascope {

const char* statistic_name(Statistic statistic) {
  return statistic == Statistic::kMean ? "mean" : "var";
}

Statistic parse_statistic(const std::string& name) {
  if (name == "mean") return Statistic::kMean;
  if (name == "var") return Statistic::kVar;
  throw std::invalid_argument("expected the statistic mean or var, got '" + name + "'");
}

bool has_batch_norm(const std::vector<ModelModule>& modules) {
  for (const auto& module : modules) {
    if (module.receives_callbacks) return true;
  }
  return false;
}

std::string nothing_to_synchronize(const std::string& model) {
  return "the model '" + model +
         "' has no BatchNorm layer (expected BatchNorm1d, BatchNorm2d or BatchNorm3d): there is "
         "nothing to synchronize";
}

std::string SeriesKey::label() const {
  switch (kind) {
    case Kind::kSynchronized:
      return "synchronized";
    case Kind::kRunning:
      return "running";
    case Kind::kRank:
      return "rank " + std::to_string(index);
    case Kind::kRankRunning:
      return "running, rank " + std::to_string(index);
    default:
      return "copy " + std::to_string(index);
  }
}

const std::vector<double>* LayerStats::values(const SeriesKey& key, Statistic statistic) const {
  const bool mean = statistic == Statistic::kMean;
  const std::vector<double>* found = nullptr;
  switch (key.kind) {
    case SeriesKey::Kind::kSynchronized:
      found = mean ? &this->mean : &var;
      break;
    case SeriesKey::Kind::kRunning:
      found = mean ? &running_mean : &running_var;
      break;
    default:
      for (const auto& c : records_of(key.kind)) {
        if (c.copy == key.index) found = mean ? &c.mean : &c.var;
      }
  }
  return found && !found->empty() ? found : nullptr;
}

const std::vector<CopyRecord>& LayerStats::records_of(SeriesKey::Kind kind) const {
  return kind == SeriesKey::Kind::kRank          ? ranks
         : kind == SeriesKey::Kind::kRankRunning ? rank_running
                                                 : copies;
}

int64_t LayerStats::count_of(const SeriesKey& key) const {
  if (key.kind == SeriesKey::Kind::kCopy || key.kind == SeriesKey::Kind::kRank) {
    for (const auto& c : records_of(key.kind)) {
      if (c.copy == key.index) return c.count;
    }
  }
  return count;
}

std::vector<SeriesKey> LayerStats::keys() const {
  std::vector<SeriesKey> out;
  for (const auto& c : copies) out.push_back(SeriesKey::copy(c.copy));
  out.push_back(SeriesKey::synchronized());
  if (!running_mean.empty()) out.push_back(SeriesKey::running());
  for (const auto& r : ranks) out.push_back(SeriesKey::rank(r.copy));
  for (const auto& r : rank_running) out.push_back(SeriesKey::rank_running(r.copy));
  return out;
}

namespace {

bool finite(const std::vector<double>& values) {
  for (const double v : values) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

bool finite(const LayerStats& layer) {
  if (!std::isfinite(layer.divergence) || !finite(layer.mean) || !finite(layer.var) ||
      !finite(layer.running_mean) || !finite(layer.running_var))
    return false;
  for (const auto* list : {&layer.copies, &layer.ranks, &layer.rank_running}) {
    for (const auto& c : *list) {
      if (!finite(c.mean) || !finite(c.var)) return false;
    }
  }
  return true;
}

}  // namespace

std::string nonfinite_part(const StepRecord& record) {
  std::string out;
  auto add = [&](const std::string& what) { out += (out.empty() ? "" : ", ") + what; };
  if (!std::isfinite(record.loss)) add("loss");
  if (!std::isfinite(record.accuracy)) add("accuracy");
  int layers = 0;
  std::string first;
  for (const auto& layer : record.layers) {
    if (finite(layer)) continue;
    if (layers++ == 0) first = layer.layer;
  }
  if (layers == 1) add("layer '" + first + "' statistics");
  if (layers > 1)
    add("statistics of " + std::to_string(layers) + " layers, the first '" + first + "'");
  return out;
}

double divergence(const LayerStats& stats, double eps, int64_t* worst_channel) {
  double worst = 0;
  int64_t where = 0;
  for (const auto& copy : stats.copies) {
    if (copy.count == 0) continue;
    for (size_t c = 0; c < stats.mean.size() && c < copy.mean.size(); ++c) {
      const double d = std::abs(copy.mean[c] - stats.mean[c]) / std::sqrt(stats.var[c] + eps);
      if (d > worst) {
        worst = d;
        where = static_cast<int64_t>(c);
      }
    }
  }
  if (worst_channel) *worst_channel = where;
  return worst;
}

double mean_over_channels(const std::vector<double>& values) {
  double sum = 0;
  for (const double v : values) sum += v;
  return values.empty() ? std::nan("") : sum / static_cast<double>(values.size());
}

std::vector<KeySummary> summarize(const LayerStats& layer) {
  std::vector<KeySummary> out;
  for (const auto& key : layer.keys()) {
    const auto* mean = layer.values(key, Statistic::kMean);
    const auto* var = layer.values(key, Statistic::kVar);
    if (!mean || !var) continue;  // no running statistics
    out.push_back({key, layer.count_of(key), mean_over_channels(*mean), mean_over_channels(*var)});
  }
  return out;
}

std::vector<double> deviation(const LayerStats& layer, const CopyRecord& series, double eps) {
  const size_t channels = std::min({series.mean.size(), layer.mean.size(), layer.var.size()});
  std::vector<double> u;
  u.reserve(channels);
  for (size_t c = 0; c < channels; ++c)
    u.push_back((series.mean[c] - layer.mean[c]) / std::sqrt(layer.var[c] + eps));
  return u;
}

std::vector<SeriesDeviation> deviations(const LayerStats& layer, double eps) {
  std::vector<SeriesDeviation> out;
  const auto& records = layer.ranks.empty() ? layer.copies : layer.ranks;
  const auto kind = layer.ranks.empty() ? SeriesKey::Kind::kCopy : SeriesKey::Kind::kRank;
  for (const auto& r : records) out.push_back({{kind, r.copy}, deviation(layer, r, eps)});
  return out;
}

std::vector<size_t> deviation_layers(const StepRecord& record) {
  std::vector<size_t> out;
  for (size_t i = 0; i < record.layers.size() && out.size() < kDeviationLayers; ++i) {
    if (record.layers[i].sync_point == 0) out.push_back(i);
  }
  return out;
}

}  // namespace replicascope
