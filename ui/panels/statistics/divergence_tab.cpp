// SPDX-License-Identifier: GPL-3.0-or-later
#include <limits>

#include "panels/statistics/statistics_tabs.h"

namespace replicascope::ui {
namespace {

// The largest value in each bucket of `bucket` steps, at the step where it was: one point per
// pixel column instead of a band of thousands (for divergence the worst is what matters).
// Extends what the envelope holds with the series' new points.
void extend_envelope(const store::Series& series, double bucket, DivergenceTab::Envelope& e) {
  if (e.bucket != bucket || e.used > series.steps.size()) {
    e = DivergenceTab::Envelope{};
    e.bucket = bucket;
    e.slot = std::numeric_limits<int64_t>::min();
  }
  const double per_step = 1.0 / bucket;
  for (size_t i = e.used; i < series.steps.size() && i < series.values.size(); ++i) {
    const auto slot = static_cast<int64_t>(series.steps[i] * per_step);  // steps are positive
    if (slot == e.slot) {
      if (series.values[i] > e.y.back())
        e.x.back() = series.steps[i], e.y.back() = series.values[i];
    } else {
      e.slot = slot;
      e.x.push_back(series.steps[i]);
      e.y.push_back(series.values[i]);
    }
  }
  e.used = series.steps.size();
}

const QColor kLayerColours[] = {QColor(31, 119, 180),  QColor(255, 127, 14),  QColor(44, 160, 44),
                                QColor(214, 39, 40),   QColor(148, 103, 189), QColor(140, 86, 75),
                                QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                                QColor(23, 190, 207)};

}  // namespace

DivergenceTab::DivergenceTab()
    : StatisticsTab({"divergence per layer", "step", "max |local - sync| / std"}) {}

void DivergenceTab::forget() {
  StatisticsTab::forget();
  envelopes_.clear();
}

void DivergenceTab::fill(const StatsHistory& history) {
  QSet<QString> named;
  int g = 0;
  // Buckets of one pixel column of the visible range (all steps unless the user zoomed).
  const double steps = history.steps().empty() ? 1.0 : history.steps().back();
  const double visible = user_view() ? xAxis->range().size() : steps;
  const double bucket = std::max(1.0, visible / std::max(1, axisRect()->width()));
  if (!only_new_points(history)) envelopes_.clear();
  drew(history);
  // A line per layer, and per call of a layer called more than once a step.
  const auto selected = history.selected_call();
  for (const auto& row : history.divergence_rows()) {
    const auto* series = history.divergence_of(row);
    if (!series) continue;
    const auto name = row.name();
    auto* graph = graph_at(g);
    auto& envelope = envelopes_[name.toStdString()];
    extend_envelope(*series, bucket, envelope);
    set_graph_data(*graph, envelope.x, envelope.y);
    graph->setPen(QPen(kLayerColours[g % 10], row.same_call(selected) ? 2.5 : 1.2));
    name_graph(*graph, name, named);
    set_graph_columns(*graph, {row.layer_name(),
                               row.sync_point_text(),
                               "divergence",
                               "largest over copies and channels",
                               {},
                               {}});
    ++g;
  }
  // The selected layer's call in each compared run, faded and named by its file (all of their
  // layers would double a legend that is long already); each run in its own dash pattern.
  for (size_t r = 0; r < history.compared().size(); ++r) {
    const auto& compared_run = history.compared()[r];
    const auto* compared = compared_run.divergence.of(selected);
    if (!compared) continue;
    auto* graph = graph_at(g++);
    set_graph_data(*graph, compared->steps, compared->values);
    graph->setPen(QPen(QColor(0, 0, 0, 110), 1.5, compared_dash(r)));
    const auto& run = compared_run.name;
    name_graph(*graph, run + ": " + selected.name(), named);
    set_graph_columns(*graph, {selected.layer_name(),
                               selected.sync_point_text(),
                               "divergence",
                               run + ": largest over copies and channels",
                               {},
                               {}});
  }
  drop_graphs_from(g);
}

}  // namespace replicascope::ui
