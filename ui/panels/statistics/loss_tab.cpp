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
  // A compared run's loss and accuracy, faded and named by its file.
  int g = 2;
  if (!history.compared_steps().empty()) {
    const auto run = history.overlay_name();
    const struct {
      const std::vector<double>& values;
      const char* name;
      QColor colour;
    } compared[] = {{history.compared_loss(), "loss", QColor(0, 0, 0, 110)},
                    {history.compared_accuracy(), "accuracy", QColor(44, 160, 44, 110)}};
    for (const auto& c : compared) {
      auto* graph = graph_at(g++);
      set_graph_data(*graph, history.compared_steps(), c.values);
      graph->setPen(QPen(c.colour, 1.5, Qt::DashDotLine));
      name_graph(*graph, run + ": " + c.name, named);
      set_graph_columns(*graph, {{}, c.name, run + ": whole batch", {}, {}});
    }
  }
  drop_graphs_from(g);
}

}  // namespace replicascope::ui
