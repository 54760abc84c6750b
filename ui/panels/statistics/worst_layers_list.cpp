// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/statistics/worst_layers_list.h"

#include <QSignalBlocker>
#include <cmath>

namespace replicascope::ui {

WorstLayersList::WorstLayersList() {
  setObjectName("worstLayers");
  setToolTip(
      "the layers whose copies' means strayed furthest from the synchronized mean (the\n"
      "largest |local - sync| / std over all steps); click one to select it");
  setMaximumWidth(260);
  setSelectionMode(QAbstractItemView::SingleSelection);
  connect(this, &QListWidget::itemClicked, this, [this](QListWidgetItem* item) {
    const auto call = call_at(row(item));
    if (!call.layer.empty() && on_call_clicked) on_call_clicked(call);
  });
}

void WorstLayersList::show_worst(const std::vector<std::pair<double, LayerCall>>& worst,
                                 const LayerCall& selected) {
  const QSignalBlocker blocker(this);
  clear();
  calls_.clear();
  for (size_t i = 0; i < worst.size() && i < static_cast<size_t>(kShown); ++i) {
    const auto& [value, call] = worst[i];
    const auto number = std::isnan(value) ? QString("NaN") : QString::number(value, 'g', 3);
    auto* item =
        new QListWidgetItem(QString("%1. %2  %3").arg(i + 1).arg(call.name(), number), this);
    item->setToolTip(call.name());
    calls_.push_back(call);
    if (call.same_call(selected)) setCurrentItem(item);
  }
}

LayerCall WorstLayersList::call_at(int row) const {
  return row >= 0 && row < static_cast<int>(calls_.size()) ? calls_[static_cast<size_t>(row)]
                                                           : LayerCall{};
}

}  // namespace replicascope::ui
