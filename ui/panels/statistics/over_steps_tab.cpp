#include "panels/statistics/statistics_tabs.h"

namespace replicascope::ui {

OverStepsTab::OverStepsTab() : StatisticsTab({"(select a synchronized layer)", "step", "mean"}) {}

void OverStepsTab::fill(const StatsHistory& history) {
  const auto& sel = history.selection();
  title_->setText(sel.layer.empty()
                      ? QString("(select a synchronized layer)")
                      : QString("%1: %2, channels %3-%4")
                            .arg(QString::fromStdString(sel.layer), statistic_name(sel.statistic))
                            .arg(sel.first_channel)
                            .arg(sel.last_channel));
  yAxis->setLabel(statistic_name(sel.statistic));
  const bool append =
      only_new_points(history) &&
      graphCount() == static_cast<int>(history.overlay().size() + history.series().size());
  drew(history);
  QSet<QString> named;
  int g = 0;
  // Another run first, so this run's lines are drawn over it.
  for (const auto* group : {&history.overlay(), &history.series()}) {
    const bool faded = group == &history.overlay();
    for (const auto& s : *group) {
      auto* graph = graph_at(g++);
      set_graph_data(*graph, s.steps, s.values, append);
      graph->setPen(pen_for(s.key, faded));
      name_graph(*graph, (faded ? "compared: " : "") + QString::fromStdString(s.key.label()),
                 named);
    }
  }
  drop_graphs_from(g);
}

}  // namespace replicascope::ui
