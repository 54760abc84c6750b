#include "plot/statistics_plot.h"

#include <qcustomplot.h>

#include <QFileInfo>
#include <QSvgGenerator>
#include <set>
#include <stdexcept>

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

Qt::PenStyle channel_dash(int64_t i) {
  static const Qt::PenStyle styles[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine, Qt::DashDotLine,
                                        Qt::DashDotDotLine};
  return styles[((i % 5) + 5) % 5];
}

Qt::PenStyle compared_dash(size_t r) {
  static const Qt::PenStyle styles[] = {Qt::DashDotLine, Qt::DotLine, Qt::DashDotDotLine,
                                        Qt::DashLine};
  return styles[r % 4];
}

QString series_label(const SeriesKey& key, bool synchronized) {
  if (key.kind == SeriesKey::Kind::kSynchronized && !synchronized)
    return "whole batch (unused: per-copy BN)";
  return QString::fromStdString(key.label());
}

QString channel_label(int64_t channel) {
  return channel == store::kOverChannels ? QString("mean over channels") : QString::number(channel);
}

void draw_sampled_as_points(QCPGraph& graph, const store::Series& series) {
  const bool sparse = series.sparse();
  graph.setLineStyle(sparse ? QCPGraph::lsNone : QCPGraph::lsLine);
  graph.setScatterStyle(sparse ? QCPScatterStyle(QCPScatterStyle::ssDisc, 5)
                               : QCPScatterStyle(QCPScatterStyle::ssNone));
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
  auto* legend = new QCPLegend;
  axes->insetLayout()->addElement(legend, Qt::AlignTop | Qt::AlignRight);
  legend->setLayer("legend");
  plot.legend = legend;
  legend->setVisible(true);
  return title;
}

void add_series(QCustomPlot& plot, const std::vector<store::Series>& series, bool faded,
                const QString& legend_prefix, bool synchronized) {
  std::set<SeriesKey> named;
  for (const auto& s : series) {
    auto* graph = plot.addGraph(plot.xAxis, plot.yAxis);
    graph->setData(QVector<double>(s.steps.begin(), s.steps.end()),
                   QVector<double>(s.values.begin(), s.values.end()), /*alreadySorted=*/true);
    graph->setPen(pen_for(s.key, faded));
    draw_sampled_as_points(*graph, s);
    graph->setName(legend_prefix + series_label(s.key, synchronized));
    set_graph_columns(*graph, {{}, {}, graph->name(), channel_label(s.channel), {}});
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
