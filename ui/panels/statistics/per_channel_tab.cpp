// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/statistics/statistics_tabs.h"

namespace replicascope::ui {
namespace {

// The selected call's statistics in `record` (a layer called more than once a step has a record
// per call); null when it has none.
const replicascope::LayerStats* selected_in(const replicascope::StepRecord* record,
                                            const store::SeriesSelection& sel) {
  if (!record) return nullptr;
  for (const auto& layer : record->layers) {
    if (layer.layer == sel.layer && layer.sync_point == sel.sync_point) return &layer;
  }
  return nullptr;
}

}  // namespace

PerChannelTab::PerChannelTab()
    : StatisticsTab({"per channel at the newest step", "channel", "mean"}) {}

void PerChannelTab::fill(const StatsHistory& history) {
  const auto& latest = history.latest();
  const auto& sel = history.selection();
  yAxis->setLabel(statistic_name(sel.statistic));
  const auto call = history.selected_call();
  const auto* stats = selected_in(latest.get(), sel);
  title_->setText(stats ? QString("%1: %2 per channel at step %3")
                              .arg(call.name(), statistic_name(sel.statistic))
                              .arg(latest->step)
                        : QString("per channel: select a synchronized layer and take a step, or "
                                  "pick a recorded step with the step slider"));
  drew(history);
  if (!stats) {
    drop_graphs_from(0);
    return;
  }
  QSet<QString> named;
  int g = 0;
  // Compared runs at the same step first, faded and named by their files, so this run's lines
  // are drawn over them.
  const auto draw = [&](const replicascope::LayerStats& layer, const ComparedRun* run, size_t r) {
    const auto keys = layer.keys();
    const bool ranks = of_ranks(keys) || (!run && history.ranks() > 1);
    for (const auto& key : keys) {
      if (repeats_rank_zero(key, keys)) continue;
      const auto* values = layer.values(key, sel.statistic);
      if (!values) continue;
      std::vector<double> x(values->size());
      for (size_t ch = 0; ch < x.size(); ++ch) x[ch] = static_cast<double>(ch);
      auto* graph = graph_at(g++);
      set_graph_data(*graph, x, *values);
      auto pen = pen_for(key, run != nullptr);
      if (run && history.compared().size() > 1) pen.setStyle(compared_dash(r));
      graph->setPen(pen);
      graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, run ? 3 : 5));
      const auto label =
          call_series_label(key, call, run ? run->synchronized : history.synchronized(), ranks);
      name_graph(*graph, run ? run->name + ": " + label : label, named);
      set_graph_columns(*graph, {call.layer_name(),
                                 call.sync_point_text(),
                                 statistic_name(sel.statistic),
                                 graph->name(),
                                 {},
                                 QString::number(latest->step)});
    }
  };
  for (size_t r = 0; r < history.compared().size(); ++r) {
    const auto& run = history.compared()[r];
    for (const auto& channels : history.latest_compared()) {
      const auto* layer = selected_in(channels.record.get(), sel);
      if (channels.path == run.path && layer) draw(*layer, &run, r);
    }
  }
  draw(*stats, nullptr, 0);
  drop_graphs_from(g);
}

QString PerChannelTab::empty_hint() const {
  return "Every channel of the selected layer at one step.\nTake a step (F10), or pick a "
         "recorded step with the step slider above.";
}

}  // namespace replicascope::ui
