#include "panels/statistics/statistics_tabs.h"

namespace replicascope::ui {

OverStepsTab::OverStepsTab() : StatisticsTab({"(select a synchronized layer)", "step", "mean"}) {}

void OverStepsTab::fill(const StatsHistory& history) {
  const auto& sel = history.selection();
  const auto channels =
      sel.over_channels ? QString("mean over channels")
                        : QString("channels %1-%2").arg(sel.first_channel).arg(sel.last_channel);
  title_->setText(sel.layer.empty() ? QString("(select a synchronized layer)")
                                    : QString("%1: %2, %3")
                                          .arg(QString::fromStdString(sel.layer),
                                               statistic_name(sel.statistic), channels));
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
      draw_sampled_as_points(*graph, s);
      const bool synchronized = faded ? history.overlay_synchronized() : history.synchronized();
      name_graph(*graph, (faded ? "compared: " : "") + series_label(s.key, synchronized), named);
    }
  }
  drop_graphs_from(g);
}

}  // namespace replicascope::ui
