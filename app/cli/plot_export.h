// SPDX-License-Identifier: GPL-3.0-or-later
// Plot export for replicascope-cli export (built when Qt and QCustomPlot are found).
#pragma once

#include <cstdint>
#include <string>

#include "replicascope/store/series.h"

namespace replicascope::cli {

struct PlotRequest {
  std::string path;  // .png, .jpg, .pdf or .svg
  store::SeriesSelection selection;
  int width = 900, height = 500;
};

void export_plot(const store::RunReader& run, const PlotRequest& request);

}  // namespace replicascope::cli
