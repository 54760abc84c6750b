// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/statistics/statistics_tabs.h"

namespace replicascope::ui {

LossTab::LossTab() : StatisticsTab({"loss and accuracy", "step", "value"}) {}

void LossTab::fill(const StatsHistory& history) {
  const bool append = only_new_points(history);
  drew(history);
  QSet<QString> named;
  // Over several processes the run keeps the ranks' figures merged: their mean weighted by
  // their samples, which is not what each rank printed (rank 0's own loss, say).
  // (The accuracy over every rank's samples is that same weighted mean.)
  const int ranks = history.ranks();
  const auto loss_over =
      ranks > 1 ? QString("mean of %1 ranks, weighted by samples").arg(ranks) : "whole batch";
  const auto accuracy_over =
      ranks > 1 ? QString("all %1 ranks' samples").arg(ranks) : "whole batch";
  auto* loss = graph_at(0);
  set_line(*loss, history.steps(), history.loss(), append);
  loss->setPen(QPen(Qt::black, 1.5));
  name_graph(*loss, ranks > 1 ? "loss, " + loss_over : QString("loss"), named);
  set_graph_columns(*loss, {{}, {}, "loss", loss_over, {}, {}});
  auto* accuracy = graph_at(1);
  set_line(*accuracy, history.steps(), history.accuracy(), append);
  accuracy->setPen(QPen(QColor(44, 160, 44), 1.5));
  name_graph(*accuracy, ranks > 1 ? "accuracy, " + accuracy_over : QString("accuracy"), named);
  set_graph_columns(*accuracy, {{}, {}, "accuracy", accuracy_over, {}, {}});
  // Each compared run's loss and accuracy, faded, named by its file, in its own dash pattern.
  int g = 2;
  for (size_t r = 0; r < history.compared().size(); ++r) {
    const auto& compared_run = history.compared()[r];
    if (compared_run.steps.empty()) continue;
    const auto& run = compared_run.name;
    const struct {
      const std::vector<double>& values;
      const char* name;
      QColor colour;
    } compared[] = {{compared_run.loss, "loss", QColor(0, 0, 0, 110)},
                    {compared_run.accuracy, "accuracy", QColor(44, 160, 44, 110)}};
    for (const auto& c : compared) {
      auto* graph = graph_at(g++);
      set_line(*graph, compared_run.steps, c.values);
      graph->setPen(QPen(c.colour, 1.5, compared_dash(r)));
      name_graph(*graph, run + ": " + c.name, named);
      set_graph_columns(*graph, {{}, {}, c.name, run + ": whole batch", {}, {}});
    }
  }
  drop_graphs_from(g);
}

}  // namespace replicascope::ui
