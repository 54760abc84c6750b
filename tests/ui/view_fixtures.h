// SPDX-License-Identifier: GPL-3.0-or-later
// What the view tests share: steps of a small layer, a history filled the way a session's steps
// fill it, and a StatisticsView shown over that history.
#pragma once

#include <QApplication>
#include <QPointF>

#include "history/stats_history.h"
#include "panels/statistics/statistics_tab.h"
#include "panels/statistics_view.h"
#include "session/session_context.h"

namespace view_fixtures {

// Step `step` of one layer ("layer0", 2 channels) on two copies: copy i's mean is
// `mean + i`, the synchronized mean `mean + 0.5`; variances are positive.
inline replicascope::StepRecord step_of(int64_t step, double mean) {
  replicascope::StepRecord record;
  record.step = step;
  record.loss = 2.0 / static_cast<double>(step);
  replicascope::LayerStats layer;
  layer.layer = "layer0";
  layer.count = 16;
  for (int c = 0; c < 2; ++c) {
    layer.copies.push_back({c, 8, {mean + c, mean + c + 0.25}, {1.0 + c, 1.5 + c}});
  }
  layer.mean = {mean + 0.5, mean + 0.75};
  layer.var = {1.5, 2.0};
  layer.divergence = 0.1 * static_cast<double>(step);
  record.layers.push_back(layer);
  return record;
}

// A history showing layer0's mean (channel 0) with `steps` steps, means from `first` on.
inline void fill(replicascope::ui::StatsHistory& history, int steps, double first = 1.0,
                 int64_t from = 1) {
  for (int s = 0; s < steps; ++s) history.append(step_of(from + s, first + 0.1 * s));
}

// Selects layer0's channel 0 (or, with `over_channels`, each copy's mean over its channels).
inline void select(replicascope::ui::StatsHistory& history, replicascope::Statistic statistic,
                   bool over_channels = false) {
  const auto request = history.select({"layer0", statistic, 0, 0, 0, over_channels}, {});
  history.accept({request.generation, {}, {}, {}});
}

struct ShownView {
  replicascope::ui::SessionContext context;
  replicascope::ui::StatsHistory history;
  replicascope::ui::StatisticsView view{context, history};
  explicit ShownView(replicascope::ui::StatisticsView::Tab tab) {
    view.resize(900, 600);
    view.show();
    QApplication::processEvents();
    view.show_tab(tab);
  }
  replicascope::ui::StatisticsTab& tab() { return *view.current_tab(); }
  // The pixel of a graph's point.
  QPointF pixel_of(int graph, int point) {
    auto& plot = tab();
    const auto data = plot.graph(graph)->data()->at(point);
    return {plot.xAxis->coordToPixel(data->key), plot.yAxis->coordToPixel(data->value)};
  }
};

}  // namespace view_fixtures
