// Beside the heatmap: the layers whose copies diverged most, worst first, with their largest
// divergence; a click selects the layer everywhere (tree, wiring, plots).
#pragma once

#include <QListWidget>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace replicascope::ui {

class WorstLayersList : public QListWidget {
 public:
  static constexpr int kShown = 10;
  WorstLayersList();
  // `worst`: (largest divergence, layer), worst first (a NaN first of all), as the heatmap
  // ranks them; the first kShown are listed, `selected` highlighted when among them.
  void show_worst(const std::vector<std::pair<double, std::string>>& worst,
                  const std::string& selected);
  // The layer of row `row` ("" past the end).
  std::string layer_at(int row) const;
  std::function<void(const std::string&)> on_layer_clicked;
};

}  // namespace replicascope::ui
