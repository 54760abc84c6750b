// SPDX-License-Identifier: GPL-3.0-or-later
#include "plot/statistics_plot.h"

#include <qcustomplot.h>

#include <QFileInfo>
#include <QSvgGenerator>
#include <algorithm>
#include <limits>
#include <set>
#include <stdexcept>

#include "plot/plot_legend.h"
#include "plot/plot_tools.h"
#include "replicascope/base/atomic_write.h"

namespace replicascope::ui {
namespace {

QColor copy_colour(int copy) {
  static const QColor palette[] = {
      QColor(31, 119, 180),  QColor(255, 127, 14), QColor(44, 160, 44),   QColor(214, 39, 40),
      QColor(148, 103, 189), QColor(140, 86, 75),  QColor(227, 119, 194), QColor(127, 127, 127)};
  return palette[copy % 8];
}

}  // namespace

QPen pen_for(const SeriesKey& key, bool faded) {
  QPen pen;
  switch (key.kind) {
    case SeriesKey::Kind::kSynchronized:
      pen = QPen(Qt::black, 3.0);
      break;
    case SeriesKey::Kind::kRunning:
      pen = QPen(QColor(90, 90, 90), 1.5, Qt::DashLine);
      break;
    case SeriesKey::Kind::kRank:  // a rank's statistics over its copies
      pen = QPen(copy_colour(key.index), 2.0, Qt::DotLine);
      break;
    case SeriesKey::Kind::kRankRunning:  // another rank's running statistics, as rank 0's
      pen = QPen(copy_colour(key.index), 1.5, Qt::DashLine);
      break;
    default:
      pen = QPen(copy_colour(key.index), 1.2);
  }
  if (faded) {
    auto colour = pen.color();
    colour.setAlpha(110);
    pen.setColor(colour);
    pen.setStyle(Qt::DashDotLine);
  }
  return pen;
}

QCPScatterStyle::ScatterShape channel_marker(int64_t i) {
  static const QCPScatterStyle::ScatterShape shapes[] = {
      QCPScatterStyle::ssDisc,     QCPScatterStyle::ssCircle,  QCPScatterStyle::ssSquare,
      QCPScatterStyle::ssTriangle, QCPScatterStyle::ssDiamond, QCPScatterStyle::ssCross};
  return shapes[((i % 6) + 6) % 6];
}

Qt::PenStyle compared_dash(size_t r) {
  static const Qt::PenStyle styles[] = {Qt::DashDotLine, Qt::DotLine, Qt::DashDotDotLine,
                                        Qt::DashLine};
  return styles[r % 4];
}

QString series_label(const SeriesKey& key, bool synchronized, bool of_ranks) {
  if (key.kind == SeriesKey::Kind::kSynchronized && !synchronized)
    return "whole batch (unused: per-copy BN)";
  if (key.kind == SeriesKey::Kind::kCopy && of_ranks)
    return QString("rank 0, copy %1").arg(key.index);
  // With several ranks, which running statistics a checkpoint saved by rank 0 keeps.
  if (key.kind == SeriesKey::Kind::kRunning && of_ranks) return "running, rank 0 (checkpoint)";
  return QString::fromStdString(key.label());
}

bool of_ranks(const std::vector<SeriesKey>& keys) {
  return std::any_of(keys.begin(), keys.end(),
                     [](const SeriesKey& k) { return k.kind == SeriesKey::Kind::kRank; });
}

bool repeats_rank_zero(const SeriesKey& key, const std::vector<SeriesKey>& keys) {
  if (key.kind != SeriesKey::Kind::kCopy) return false;
  std::set<int> copies;
  bool rank_zero = false;
  for (const auto& k : keys) {
    if (k.kind == SeriesKey::Kind::kCopy) copies.insert(k.index);
    if (k == SeriesKey::rank(0)) rank_zero = true;
  }
  return rank_zero && copies.size() == 1;
}

QString channel_label(int64_t channel) {
  return channel == store::kOverChannels ? QString("mean over channels") : QString::number(channel);
}

void style_series(QCPGraph& graph, const store::Series& series, int64_t first_channel) {
  const bool summary = series.channel == store::kOverChannels;
  graph.setLineStyle(summary ? QCPGraph::lsLine : QCPGraph::lsNone);
  if (summary) {
    graph.setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssNone));
    return;
  }
  // The line's colour in a plain pen (a dotted one frays a marker); the bold line's bigger.
  const auto& line = graph.pen();
  graph.setScatterStyle(QCPScatterStyle(channel_marker(series.channel - first_channel),
                                        QPen(line.color(), 1.2), Qt::NoBrush,
                                        line.widthF() >= 3 ? 7 : 5));
}

QCPTextElement* prepare_plot(QCustomPlot& plot, const PlotLabels& labels) {
  plot.clearGraphs();
  plot.plotLayout()->clear();
  // Qt strokes wide and dashed polylines of thousands of points very slowly (minutes for the
  // synchronized line over 10,000 steps); QCustomPlot's fast polylines draw them in
  // milliseconds, with plainer joins.
  plot.setPlottingHint(QCP::phFastPolylines, true);
  auto* title = new QCPTextElement(&plot, labels.title, QFont("sans", 11, QFont::Bold));
  plot.plotLayout()->addElement(0, 0, title);
  auto* axes = new QCPAxisRect(&plot);
  plot.plotLayout()->addElement(1, 0, axes);
  plot.xAxis = axes->axis(QCPAxis::atBottom);
  plot.yAxis = axes->axis(QCPAxis::atLeft);
  plot.xAxis2 = axes->axis(QCPAxis::atTop);
  plot.yAxis2 = axes->axis(QCPAxis::atRight);
  plot.xAxis->setLabel(labels.x_axis);
  // Steps and channels are whole numbers: ticks at 1, 2, 5, 10, ... times a power of ten.
  QSharedPointer<QCPAxisTickerFixed> whole(new QCPAxisTickerFixed);
  whole->setTickStep(1.0);
  whole->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  plot.xAxis->setTicker(whole);
  plot.yAxis->setLabel(labels.y_axis);
  // Beside the axes, in a column of its own as wide as the legend needs: over them, a long
  // legend covered the lines.
  auto* legend = new PlotLegend;
  plot.plotLayout()->addElement(1, 1, legend);
  plot.plotLayout()->setColumnStretchFactor(1, 0.001);
  legend->setLayer("legend");
  plot.legend = legend;
  legend->setVisible(true);
  return title;
}

void add_series(QCustomPlot& plot, const std::vector<store::Series>& series, bool faded,
                const QString& legend_prefix, bool synchronized) {
  std::vector<SeriesKey> keys;
  for (const auto& s : series) keys.push_back(s.key);
  const bool ranks = of_ranks(keys);
  int64_t first_channel = std::numeric_limits<int64_t>::max();
  for (const auto& s : series) first_channel = std::min(first_channel, s.channel);
  std::set<SeriesKey> named;
  for (const auto& s : series) {
    if (repeats_rank_zero(s.key, keys)) continue;
    auto* graph = plot.addGraph(plot.xAxis, plot.yAxis);
    graph->setData(QVector<double>(s.steps.begin(), s.steps.end()),
                   QVector<double>(s.values.begin(), s.values.end()), /*alreadySorted=*/true);
    graph->setPen(pen_for(s.key, faded));
    style_series(*graph, s, first_channel);
    graph->setName(legend_prefix + series_label(s.key, synchronized, ranks));
    set_graph_columns(*graph, {{}, {}, {}, graph->name(), channel_label(s.channel), {}});
    if (!named.insert(s.key).second) graph->removeFromLegend();
  }
}

void draw_statistics(QCustomPlot& plot, const std::vector<store::Series>& series,
                     const PlotLabels& labels) {
  prepare_plot(plot, labels);
  add_series(plot, series, /*faded=*/false, {}, labels.synchronized);
  plot.rescaleAxes();
  plot.replot();
}

void save_plot(QCustomPlot& plot, const QString& path, int width, int height) {
  const auto suffix = QFileInfo(path).suffix().toLower();
  if (suffix != "png" && suffix != "jpg" && suffix != "jpeg" && suffix != "pdf" &&
      suffix != "svg") {
    throw std::runtime_error("cannot write the plot '" + path.toStdString() +
                             "': expected a .png, .jpg, .pdf or .svg file name");
  }
  const HiddenLayer no_tracer(plot, kTracerLayer);  // the mouse's label is not the plot's
  write_atomically(path.toStdString(), [&](const std::string& temporary) {
    const auto file = QString::fromStdString(temporary);
    bool ok = false;
    if (suffix == "png") {
      ok = plot.saveRastered(file, width, height, 1.0, "PNG");
    } else if (suffix == "jpg" || suffix == "jpeg") {
      ok = plot.saveRastered(file, width, height, 1.0, "JPG");
    } else if (suffix == "pdf") {
      ok = plot.savePdf(file, width, height);
    } else {
      QSvgGenerator svg;
      svg.setFileName(file);
      svg.setSize(QSize(width, height));
      svg.setViewBox(QRect(0, 0, width, height));
      QCPPainter painter;
      ok = painter.begin(&svg);
      if (ok) {
        plot.toPainter(&painter, width, height);
        ok = painter.end();
      }
    }
    if (!ok) throw std::runtime_error("Qt could not write the file");
  });
}

}  // namespace replicascope::ui
