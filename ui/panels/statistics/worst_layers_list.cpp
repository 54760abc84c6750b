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
    const auto layer = layer_at(row(item));
    if (!layer.empty() && on_layer_clicked) on_layer_clicked(layer);
  });
}

void WorstLayersList::show_worst(const std::vector<std::pair<double, std::string>>& worst,
                                 const std::string& selected) {
  const QSignalBlocker blocker(this);
  clear();
  for (size_t i = 0; i < worst.size() && i < static_cast<size_t>(kShown); ++i) {
    const auto& [value, layer] = worst[i];
    const auto number = std::isnan(value) ? QString("NaN") : QString::number(value, 'g', 3);
    auto* item = new QListWidgetItem(
        QString("%1. %2  %3").arg(i + 1).arg(QString::fromStdString(layer), number), this);
    item->setData(Qt::UserRole, QString::fromStdString(layer));
    item->setToolTip(QString::fromStdString(layer));
    if (layer == selected) setCurrentItem(item);
  }
}

std::string WorstLayersList::layer_at(int row) const {
  const auto* entry = item(row);
  return entry ? entry->data(Qt::UserRole).toString().toStdString() : std::string();
}

}  // namespace replicascope::ui
