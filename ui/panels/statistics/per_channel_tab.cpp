#include "panels/statistics/statistics_tabs.h"

namespace replicascope::ui {

PerChannelTab::PerChannelTab()
    : StatisticsTab({"per channel at the newest step", "channel", "mean"}) {}

void PerChannelTab::fill(const StatsHistory& history) {
  const auto& latest = history.latest();
  const auto& sel = history.selection();
  yAxis->setLabel(statistic_name(sel.statistic));
  const engine::LayerStats* stats = nullptr;
  if (latest) {
    for (const auto& layer : latest->layers) {
      if (layer.layer == sel.layer && layer.sync_point == 0) stats = &layer;
    }
  }
  title_->setText(stats ? QString("%1: %2 per channel at step %3")
                              .arg(QString::fromStdString(sel.layer), statistic_name(sel.statistic))
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
  for (const auto& key : stats->keys()) {
    const auto* values = stats->values(key, sel.statistic);
    if (!values) continue;
    std::vector<double> x(values->size());
    for (size_t ch = 0; ch < x.size(); ++ch) x[ch] = static_cast<double>(ch);
    auto* graph = graph_at(g++);
    set_graph_data(*graph, x, *values);
    graph->setPen(pen_for(key));
    graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
    name_graph(*graph, series_label(key, history.synchronized()), named);
    set_graph_columns(*graph, {QString::fromStdString(sel.layer),
                               statistic_name(sel.statistic),
                               graph->name(),
                               {},
                               QString::number(latest->step)});
  }
  drop_graphs_from(g);
}

QString PerChannelTab::empty_hint() const {
  return "Every channel of the selected layer at one step.\nTake a step (F10), or pick a "
         "recorded step with the step slider above.";
}

}  // namespace replicascope::ui
