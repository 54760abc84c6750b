// SPDX-License-Identifier: GPL-3.0-or-later
#include "history/divergence_history.h"

namespace replicascope::ui {

QString LayerCall::call_text() const {
  return calls > 1 ? QString("call %1 of %2").arg(sync_point + 1).arg(calls) : QString();
}

QString LayerCall::name() const {
  const auto layer_name = QString::fromStdString(layer);
  return calls > 1 ? QString("%1 (%2)").arg(layer_name, call_text()) : layer_name;
}

void DivergenceHistory::clear() {
  largest_.clear();
  calls_.clear();
}

void DivergenceHistory::add(const std::string& layer, double step, int64_t sync_point,
                            double value) {
  auto& largest = largest_[layer];
  const auto found = calls_.find(layer);
  auto* calls = found == calls_.end() ? nullptr : &found->second;
  add_to(layer, largest, calls, step, sync_point, value);
}

void DivergenceHistory::add(const std::string& layer,
                            const std::vector<store::DivergencePoint>& points) {
  auto& largest = largest_[layer];  // a layer without points is listed too
  const auto found = calls_.find(layer);
  auto* calls = found == calls_.end() ? nullptr : &found->second;
  for (const auto& point : points) {
    add_to(layer, largest, calls, static_cast<double>(point.step), point.sync_point, point.value);
  }
}

void DivergenceHistory::add_to(const std::string& layer, store::Series& largest,
                               std::vector<store::Series>*& calls, double step, int64_t sync_point,
                               double value) {
  if (!calls && sync_point > 0) {
    // Its first second call: until now the layer was called once a step (this step's first
    // call included), so its largest values were its first call's.
    calls = &calls_[layer];
    calls->push_back(largest);
  }
  if (calls && sync_point >= 0) {
    if (calls->size() <= static_cast<size_t>(sync_point)) calls->resize(sync_point + 1);
    auto& call = (*calls)[sync_point];
    call.steps.push_back(step);
    call.values.push_back(value);
  }
  if (sync_point > 0 && !largest.steps.empty() && largest.steps.back() == step) {
    // A later call in the same step: the step shows the largest (NaN wins, as it must show).
    if (!(value <= largest.values.back())) largest.values.back() = value;
  } else {
    largest.steps.push_back(step);
    largest.values.push_back(value);
  }
}

int64_t DivergenceHistory::calls(const std::string& layer) const {
  const auto found = calls_.find(layer);
  return found == calls_.end() ? 1 : static_cast<int64_t>(found->second.size());
}

std::map<std::string, int64_t> DivergenceHistory::call_counts() const {
  std::map<std::string, int64_t> out;
  for (const auto& [layer, calls] : calls_) out[layer] = static_cast<int64_t>(calls.size());
  return out;
}

const store::Series* DivergenceHistory::of(const LayerCall& call) const {
  const auto found = calls_.find(call.layer);
  if (found != calls_.end()) {
    const auto& calls = found->second;
    return call.sync_point >= 0 && call.sync_point < static_cast<int64_t>(calls.size())
               ? &calls[call.sync_point]
               : nullptr;
  }
  const auto largest = largest_.find(call.layer);
  return largest != largest_.end() && call.sync_point == 0 ? &largest->second : nullptr;
}

}  // namespace replicascope::ui
