// SPDX-License-Identifier: GPL-3.0-or-later
// Every layer's divergence over steps, and each of its calls' when a layer is called more than
// once in a step (one BatchNorm shared by two branches, a layer reused in a loop): each call is
// a sync point of its own, with its own batch statistics, so the views show each (LayerCall).
#pragma once

#include <QString>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "replicascope/store/run_rows.h"
#include "replicascope/store/series.h"

namespace replicascope::ui {

// One call of a layer in a step: its sync point (0 for the first call) of `calls`.
struct LayerCall {
  std::string layer;
  int64_t sync_point = 0;
  int64_t calls = 1;
  // "layer4.0.bn (call 2 of 2)"; the layer's name alone for a layer called once.
  QString name() const;
  // "call 2 of 2"; empty for a layer called once.
  QString call_text() const;
  // The CSV's columns, as `replicascope-cli export` writes them: the name, the sync point.
  QString layer_name() const { return QString::fromStdString(layer); }
  QString sync_point_text() const { return QString::number(sync_point); }
  bool same_call(const LayerCall& o) const {
    return layer == o.layer && sync_point == o.sync_point;
  }
};

class DivergenceHistory {
 public:
  void clear();
  // One call's divergence at `step`; a step's calls of a layer come with the step, first call
  // first.
  void add(const std::string& layer, double step, int64_t sync_point, double value);
  // A layer's points as a run file keeps them, ordered by step and sync point.
  void add(const std::string& layer, const std::vector<store::DivergencePoint>& points);
  // Per layer: at each step, the largest divergence over its calls.
  const std::map<std::string, store::Series>& largest() const { return largest_; }
  // How many times `layer` is called in a step (1 for a layer called once, or unknown).
  int64_t calls(const std::string& layer) const;
  // The layers called more than once, with how many times.
  std::map<std::string, int64_t> call_counts() const;
  // A call's divergence over steps; null when there is none.
  const store::Series* of(const LayerCall& call) const;

 private:
  // Adds to `layer`'s series: `largest`, and `calls` (null until it is seen called twice).
  void add_to(const std::string& layer, store::Series& largest, std::vector<store::Series>*& calls,
              double step, int64_t sync_point, double value);
  std::map<std::string, store::Series> largest_;
  std::map<std::string, std::vector<store::Series>> calls_;  // layers called more than once
};

}  // namespace replicascope::ui
