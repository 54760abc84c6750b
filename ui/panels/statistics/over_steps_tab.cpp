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
  // Several channels: each line is named with its channel and drawn in its own dash pattern (a
  // copy keeps its colour), so that channels can be told apart in the legend and the tracer.
  const bool several = !sel.over_channels && sel.last_channel > sel.first_channel;
  QSet<QString> named;
  int g = 0;
  // Another run first, so this run's lines are drawn over it.
  for (const auto* group : {&history.overlay(), &history.series()}) {
    const bool faded = group == &history.overlay();
    for (const auto& s : *group) {
      auto* graph = graph_at(g++);
      set_graph_data(*graph, s.steps, s.values, append);
      auto pen = pen_for(s.key, faded);
      if (several) pen.setStyle(channel_dash(s.channel - sel.first_channel));
      graph->setPen(pen);
      draw_sampled_as_points(*graph, s);
      const bool synchronized = faded ? history.overlay_synchronized() : history.synchronized();
      // A compared run's lines are named by its file: "unsync: copy 0".
      const auto series =
          (faded ? history.overlay_name() + ": " : QString()) + series_label(s.key, synchronized);
      const auto channel = channel_label(s.channel);
      name_graph(*graph, several ? series + ", channel " + channel : series, named);
      set_graph_columns(
          *graph,
          {QString::fromStdString(sel.layer), statistic_name(sel.statistic), series, channel, {}});
    }
  }
  drop_graphs_from(g);
}

}  // namespace replicascope::ui
