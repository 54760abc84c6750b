#include "replicascope/records.h"

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

std::string SeriesKey::label() const {
  switch (kind) {
    case Kind::kSynchronized:
      return "synchronized";
    case Kind::kRunning:
      return "running";
    case Kind::kRank:
      return "rank " + std::to_string(index);
    default:
      return "copy " + std::to_string(index);
  }
}

}  // namespace replicascope

namespace replicascope::engine {

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
      for (const auto& c : key.kind == SeriesKey::Kind::kRank ? ranks : copies) {
        if (c.copy == key.index) found = mean ? &c.mean : &c.var;
      }
  }
  return found && !found->empty() ? found : nullptr;
}

int64_t LayerStats::count_of(const SeriesKey& key) const {
  if (key.kind == SeriesKey::Kind::kCopy || key.kind == SeriesKey::Kind::kRank) {
    for (const auto& c : key.kind == SeriesKey::Kind::kRank ? ranks : copies) {
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
  for (const auto* list : {&layer.copies, &layer.ranks}) {
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

}  // namespace replicascope::engine
