#include "panels/statistics/statistics_tab.h"

namespace replicascope::ui {

StatisticsTab::StatisticsTab(const PlotLabels& labels) {
  setMinimumSize(320, 220);
  title_ = prepare_plot(*this, labels);
  enable_interactions(*this);
  tracer_ = new PlotTracer(*this);
  // A drag or a wheel turn means the user chose the view; a double click gives it back.
  connect(this, &QCustomPlot::mousePress, this, [this] { user_view_ = true; });
  connect(this, &QCustomPlot::mouseWheel, this, [this] { user_view_ = true; });
}

bool StatisticsTab::only_new_points(const StatsHistory& history) const {
  // Epochs start at 1 once anything was selected or cleared; 0 means never drawn.
  return drawn_epoch_ != 0 && drawn_epoch_ == history.epoch();
}

QCPGraph* StatisticsTab::graph_at(int i) {
  while (graphCount() <= i) addGraph(xAxis, yAxis);
  return graph(i);
}

void StatisticsTab::drop_graphs_from(int count) {
  while (graphCount() > count) removeGraph(graphCount() - 1);
}

void StatisticsTab::name_graph(QCPGraph& graph, const QString& name, QSet<QString>& named) {
  graph.setName(name);
  const bool first = !named.contains(name);
  if (first) named.insert(name);
  if (first && !legend->hasItemWithPlottable(&graph)) graph.addToLegend();
  if (!first) graph.removeFromLegend();
}

void set_graph_data(QCPGraph& graph, const std::vector<double>& x, const std::vector<double>& y,
                    bool append) {
  const int n = static_cast<int>(std::min(x.size(), y.size()));
  const int have = graph.dataCount();
  if (append && have <= n) {
    if (have == n) return;
    QVector<QCPGraphData> tail(n - have);
    for (int i = have; i < n; ++i) tail[i - have] = QCPGraphData(x[i], y[i]);
    graph.data()->add(tail, /*alreadySorted=*/true);
    return;
  }
  QVector<QCPGraphData> points(n);
  for (int i = 0; i < n; ++i) points[i] = QCPGraphData(x[i], y[i]);
  graph.data()->set(points, /*alreadySorted=*/true);
}

}  // namespace replicascope::ui
