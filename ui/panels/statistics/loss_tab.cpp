#include "panels/statistics/statistics_tabs.h"

namespace replicascope::ui {

LossTab::LossTab() : StatisticsTab({"loss and accuracy", "step", "value"}) {}

void LossTab::fill(const StatsHistory& history) {
  const bool append = only_new_points(history);
  drew(history);
  QSet<QString> named;
  auto* loss = graph_at(0);
  set_graph_data(*loss, history.steps(), history.loss(), append);
  loss->setPen(QPen(Qt::black, 1.5));
  name_graph(*loss, "loss", named);
  set_graph_columns(*loss, {{}, "loss", "whole batch", {}, {}});
  auto* accuracy = graph_at(1);
  set_graph_data(*accuracy, history.steps(), history.accuracy(), append);
  accuracy->setPen(QPen(QColor(44, 160, 44), 1.5));
  name_graph(*accuracy, "accuracy", named);
  set_graph_columns(*accuracy, {{}, "accuracy", "whole batch", {}, {}});
}

}  // namespace replicascope::ui
