// SPDX-License-Identifier: GPL-3.0-or-later
// Beside the heatmap: the layers whose copies diverged most, worst first, with their largest
// divergence, each call of a layer called more than once a step on its own ("bn (call 2 of 2)");
// a click selects the layer and call everywhere (tree, wiring, plots).
#pragma once

#include <QListWidget>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "history/divergence_history.h"

namespace replicascope::ui {

class WorstLayersList : public QListWidget {
 public:
  static constexpr int kShown = 10;
  WorstLayersList();
  // `worst`: (largest divergence, layer call), worst first (a NaN first of all), as the heatmap
  // ranks them; the first kShown are listed, `selected` highlighted when among them.
  void show_worst(const std::vector<std::pair<double, LayerCall>>& worst,
                  const LayerCall& selected);
  // The layer (and call) of row `row` ("" past the end).
  std::string layer_at(int row) const { return call_at(row).layer; }
  LayerCall call_at(int row) const;
  std::function<void(const LayerCall&)> on_call_clicked;

 private:
  std::vector<LayerCall> calls_;  // the rows' calls
};

}  // namespace replicascope::ui
