// SPDX-License-Identifier: GPL-3.0-or-later
#include <algorithm>

#include "panels/statistics/statistics_tabs.h"

namespace replicascope::ui {

OverStepsTab::OverStepsTab() : StatisticsTab({"(select a synchronized layer)", "step", "mean"}) {}

QString call_series_label(const SeriesKey& key, const LayerCall& call, bool synchronized,
                          bool of_ranks) {
  const auto label = series_label(key, synchronized, of_ranks);
  if (key.kind != SeriesKey::Kind::kRunning || call.calls < 2) return label;
  return QString("%1 (after %2)").arg(label, call.call_text());
}

void OverStepsTab::fill(const StatsHistory& history) {
  const auto& sel = history.selection();
  const auto channels =
      sel.over_channels ? QString("mean over channels")
                        : QString("channels %1-%2").arg(sel.first_channel).arg(sel.last_channel);
  title_->setText(sel.layer.empty() ? QString("(select a synchronized layer)")
                                    : QString("%1: %2, %3")
                                          .arg(history.selected_call().name(),
                                               statistic_name(sel.statistic), channels));
  yAxis->setLabel(statistic_name(sel.statistic));
  // Compared runs first, so this run's lines are drawn over them.
  std::vector<Group> groups;
  for (size_t r = 0; r < history.compared().size(); ++r)
    groups.push_back({&history.compared()[r].overlay, &history.compared()[r], r});
  groups.push_back({&history.series(), nullptr, 0});
  const bool marks = sel.over_channels && history.kept_sample();
  size_t lines = marks ? 1 : 0;
  for (const auto& group : groups) {
    const auto keys = keys_of(*group.series);
    for (const auto& s : *group.series) lines += repeats_rank_zero(s.key, keys) ? 0 : 1;
  }
  const bool append = only_new_points(history) && graphCount() == static_cast<int>(lines);
  drew(history);
  QSet<QString> named;
  int g = 0;
  QCPGraph* bold = nullptr;
  for (const auto& group : groups) g = draw_group(group, history, append, named, g, bold);
  if (marks && bold) mark_kept_steps(history, *bold, *graph_at(g++), named);
  drop_graphs_from(g);
}

std::vector<SeriesKey> OverStepsTab::keys_of(const std::vector<store::Series>& series) {
  std::vector<SeriesKey> keys;
  for (const auto& s : series) keys.push_back(s.key);
  return keys;
}

int OverStepsTab::draw_group(const Group& group, const StatsHistory& history, bool append,
                             QSet<QString>& named, int g, QCPGraph*& bold) {
  const auto& sel = history.selection();
  const bool faded = group.run != nullptr;
  // Several channels: each named with its channel and drawn with its own marker (a copy keeps
  // its colour), so that channels can be told apart in the legend and the tracer.
  const bool several = !sel.over_channels && sel.last_channel > sel.first_channel;
  const auto keys = keys_of(*group.series);
  const bool ranks = of_ranks(keys) || (!faded && history.ranks() > 1);
  const bool synchronized = faded ? group.run->synchronized : history.synchronized();
  const auto call = history.selected_call();
  for (const auto& s : *group.series) {
    if (repeats_rank_zero(s.key, keys)) continue;
    auto* graph = graph_at(g++);
    if (s.channel == store::kOverChannels) {
      set_line(*graph, s.steps, s.values, append);
    } else {
      // A channel's values where the run keeps them: a live step it does not keep goes once the
      // run says so, and the drawing is the one the run shows when read back.
      std::vector<double> x, y;
      for (size_t i = 0; i < s.steps.size() && i < s.values.size(); ++i) {
        if (faded || history.keeps(s.steps[i])) x.push_back(s.steps[i]), y.push_back(s.values[i]);
      }
      set_graph_smoothing(*graph, 0);
      set_graph_data(*graph, x, y, append);
    }
    auto pen = pen_for(s.key, faded);
    if (faded && history.compared().size() > 1) pen.setStyle(compared_dash(group.index));
    graph->setPen(pen);
    style_series(*graph, s, sel.first_channel);
    if (!faded && (!bold || s.key == SeriesKey::synchronized())) bold = graph;
    // A compared run's lines are named by its file: "unsync: copy 0".
    const auto series = (faded ? group.run->name + ": " : QString()) +
                        call_series_label(s.key, call, synchronized, ranks);
    const auto channel = channel_label(s.channel);
    name_graph(*graph, several ? series + ", channel " + channel : series, named);
    set_graph_columns(*graph, {call.layer_name(),
                               call.sync_point_text(),
                               statistic_name(sel.statistic),
                               series,
                               channel,
                               {}});
  }
  return g;
}

void OverStepsTab::mark_kept_steps(const StatsHistory& history, const QCPGraph& bold,
                                   QCPGraph& marks, QSet<QString>& named) {
  // Beads on the bold line (as drawn, smoothed or not) at the steps whose every channel the run
  // keeps: where choosing channels, or the Per-channel view, has values to show.
  const auto& kept = history.kept_steps();
  std::vector<double> x, y;
  for (auto it = bold.data()->constBegin(); it != bold.data()->constEnd(); ++it) {
    if (std::binary_search(kept.begin(), kept.end(), static_cast<int64_t>(it->key)))
      x.push_back(it->key), y.push_back(it->value);
  }
  set_graph_data(marks, x, y);
  marks.setLineStyle(QCPGraph::lsNone);
  marks.setPen(QPen(QColor(90, 90, 90), 1.2));
  marks.setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 8));
  set_graph_decoration(marks);
  set_graph_smoothing(marks, 0);
  name_graph(marks,
             QString("kept every channel (%1 of %2 steps)")
                 .arg(kept.size())
                 .arg(history.steps_when_kept_read()),
             named);
}

}  // namespace replicascope::ui
