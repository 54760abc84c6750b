// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope-cli export --plot: draws with QCustomPlot on Qt's offscreen platform.
#include <qcustomplot.h>

#include <QApplication>
#include <cstdlib>
#include <memory>

#include "cli/plot_export.h"
#include "plot/statistics_plot.h"
#include "replicascope/store/series.h"

namespace replicascope::cli {

void export_plot(const store::RunReader& run, const PlotRequest& request) {
  // A headless tool: never look for a display.
  if (!std::getenv("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  std::unique_ptr<QApplication> app;
  if (!QApplication::instance()) {
    static int argc = 1;
    static char name[] = "replicascope-cli";
    static char* argv[] = {name, nullptr};
    app = std::make_unique<QApplication>(argc, argv);
  }
  const auto& selection = request.selection;
  const auto series = store::statistic_series(run, selection);
  const QString statistic = statistic_name(selection.statistic);
  QCustomPlot plot;
  plot.resize(request.width, request.height);
  ui::PlotLabels labels{QString::fromStdString(selection.layer) + ": " + statistic, "step",
                        statistic};
  labels.synchronized = store::trained_synchronized(run.metadata());
  ui::draw_statistics(plot, series, labels);
  ui::save_plot(plot, QString::fromStdString(request.path), request.width, request.height);
}

}  // namespace replicascope::cli
