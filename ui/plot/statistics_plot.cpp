#include "plot/statistics_plot.h"

#include <qcustomplot.h>

#include <QFileInfo>
#include <QSvgGenerator>
#include <set>
#include <stdexcept>

#include "replicascope/atomic_write.h"

namespace replicascope::ui {
namespace {

QColor copy_colour(int copy) {
  static const QColor palette[] = {
      QColor(31, 119, 180),  QColor(255, 127, 14), QColor(44, 160, 44),   QColor(214, 39, 40),
      QColor(148, 103, 189), QColor(140, 86, 75),  QColor(227, 119, 194), QColor(127, 127, 127)};
  return palette[copy % 8];
}

QPen pen_for(int copy) {
  if (copy == store::kSynchronizedCopy) return QPen(Qt::black, 3.0);
  if (copy == store::kRunningCopy) return QPen(QColor(90, 90, 90), 1.5, Qt::DashLine);
  return QPen(copy_colour(copy), 1.2);
}

QString legend_name(int copy) {
  if (copy == store::kSynchronizedCopy) return "synchronized";
  if (copy == store::kRunningCopy) return "running";
  return QString("copy %1").arg(copy);
}

}  // namespace

void show_statistics(QCustomPlot& plot, const std::vector<store::Series>& series,
                     const PlotLabels& labels) {
  plot.clearGraphs();
  plot.plotLayout()->clear();
  plot.plotLayout()->addElement(
      0, 0, new QCPTextElement(&plot, labels.title, QFont("sans", 11, QFont::Bold)));
  auto* axes = new QCPAxisRect(&plot);
  plot.plotLayout()->addElement(1, 0, axes);
  plot.xAxis = axes->axis(QCPAxis::atBottom);
  plot.yAxis = axes->axis(QCPAxis::atLeft);
  plot.xAxis->setLabel("step");
  plot.yAxis->setLabel(labels.y_axis);
  auto* legend = new QCPLegend;
  axes->insetLayout()->addElement(legend, Qt::AlignTop | Qt::AlignRight);
  legend->setLayer("legend");
  plot.legend = legend;
  legend->setVisible(true);
  std::set<int> named;
  for (const auto& s : series) {
    auto* graph = plot.addGraph(plot.xAxis, plot.yAxis);
    graph->setData(QVector<double>(s.steps.begin(), s.steps.end()),
                   QVector<double>(s.values.begin(), s.values.end()), /*alreadySorted=*/true);
    graph->setPen(pen_for(s.copy));
    graph->setName(legend_name(s.copy));
    if (!named.insert(s.copy).second) graph->removeFromLegend();
  }
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
