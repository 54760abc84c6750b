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
  size_t lines = history.series().size();
  for (const auto& run : history.compared()) lines += run.overlay.size();
  const bool append = only_new_points(history) && graphCount() == static_cast<int>(lines);
  drew(history);
  // Several channels: each line is named with its channel and drawn in its own dash pattern (a
  // copy keeps its colour), so that channels can be told apart in the legend and the tracer.
  const bool several = !sel.over_channels && sel.last_channel > sel.first_channel;
  QSet<QString> named;
  int g = 0;
  // Compared runs first, so this run's lines are drawn over them.
  struct Group {
    const std::vector<store::Series>* series;
    const ComparedRun* run;  // null: this run
    size_t index;
  };
  std::vector<Group> groups;
  for (size_t r = 0; r < history.compared().size(); ++r)
    groups.push_back({&history.compared()[r].overlay, &history.compared()[r], r});
  groups.push_back({&history.series(), nullptr, 0});
  for (const auto& group : groups) {
    const bool faded = group.run != nullptr;
    for (const auto& s : *group.series) {
      auto* graph = graph_at(g++);
      set_line(*graph, s.steps, s.values, append);
      auto pen = pen_for(s.key, faded);
      if (several) {
        pen.setStyle(channel_dash(s.channel - sel.first_channel));
      } else if (faded && history.compared().size() > 1) {
        pen.setStyle(compared_dash(group.index));  // several runs told apart
      }
      graph->setPen(pen);
      draw_sampled_as_points(*graph, s);
      const bool synchronized = faded ? group.run->synchronized : history.synchronized();
      // A compared run's lines are named by its file: "unsync: copy 0".
      const auto series =
          (faded ? group.run->name + ": " : QString()) + series_label(s.key, synchronized);
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
