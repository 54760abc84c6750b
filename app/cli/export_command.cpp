// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope-cli export: a recorded run as tidy CSV or JSON.
#include <cstdio>
#include <iostream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "replicascope/base/atomic_write.h"
#include "replicascope/base/stop_signals.h"
#include "replicascope/store/export.h"
#include "replicascope/store/run_reader.h"
#ifdef REPLICASCOPE_HAVE_UI
#include "cli/plot_export.h"
#endif

namespace replicascope::cli {

const char* const kExportUsage =
    "usage: replicascope-cli export RUN.sqlite [--csv FILE] [--summaries FILE] [--json FILE]\n"
    "       [--plot FILE] [options]\n\n"
    "Writes the statistics of a recorded run. CSV is tidy, one value per row:\n"
    "step,layer,sync_point,copy,channel,statistic,value (copy: 0, 1, ..., synchronized or\n"
    "running; statistic: mean or var), for the steps that kept every channel's statistics\n"
    "(a run keeps them for a sample of its steps: --detail-steps of train). --summaries writes\n"
    "every step's means over channels, one row per copy: step,layer,sync_point,copy,count,mean,\n"
    "var. JSON holds the run's metadata, every step's loss, accuracy and whether it kept its\n"
    "detail, every layer's divergence per step (with the channel where it was largest), and the\n"
    "per-channel rows. --plot draws one layer's statistic over steps, each copy's points at\n"
    "the steps that kept every channel (one colour per copy, one marker per channel in the\n"
    "range), the synchronized one bold and the\n"
    "running one dashed, as PNG, JPG, PDF or SVG by the file's extension, without a display.\n"
    "Files are written whole or not at all; - writes CSV or JSON to standard output. Neither\n"
    "the run itself nor one file for two outputs is accepted.\n\n"
    "options:\n"
    "  --csv FILE         write CSV there (- for standard output)\n"
    "  --summaries FILE   write every step's summaries there as CSV (- for standard output)\n"
    "  --json FILE        write JSON there (- for standard output)\n"
    "  --plot FILE        draw a plot there (needs --layer; statistic default mean, channels\n"
    "                     default 0:0)\n"
    "  --size WxH         plot size in pixels (default 900x500)\n"
    "  --layer NAME       only this layer (default: all)\n"
    "  --channels A:B     only channels A to B, inclusive (default: all)\n"
    "  --statistic NAME   only mean or var (default: both)\n";

namespace {

store::StatFilter filter_of(const Arguments& args) {
  store::StatFilter filter;
  filter.layer = args.get("layer", "");
  if (args.has("statistic")) {
    const auto name = args.get("statistic", "");
    if (name != "mean" && name != "var")
      throw UsageError("--statistic expects mean or var, got '" + name + "'");
    filter.statistic = parse_statistic(name);
  }
  const auto channels = args.get("channels", "");
  if (!channels.empty()) {
    long long a = 0, b = 0;
    char tail = 0;
    if (std::sscanf(channels.c_str(), "%lld:%lld%c", &a, &b, &tail) != 2 || a < 0 || b < a) {
      throw UsageError("--channels expects A:B with 0 <= A <= B, got '" + channels + "'");
    }
    filter.first_channel = a;
    filter.last_channel = b;
  }
  return filter;
}

void write_json(const store::RunReader& run, const store::StatFilter& filter, std::ostream& out) {
  JsonWriter json(out);
  json.begin_object().key("metadata").begin_object();
  for (const auto& [key, value] : run.metadata()) json.key(key).value(value);
  json.end_object().key("steps").begin_array();
  for (const auto& s : run.steps()) {
    stop_here_if_signalled("stopped");  // Ctrl-C: the partial file goes (write_atomically)
    json.begin_object().key("step").value(s.step).key("epoch").value(s.epoch);
    json.key("loss").value(s.loss).key("accuracy").value(s.accuracy);
    json.key("seconds").value(s.seconds).key("detail").value(s.detail);
    if (!s.nonfinite.empty()) json.key("nonfinite").value(s.nonfinite);
    json.end_object();
  }
  json.end_array().key("divergence").begin_array();
  for (const auto& [layer, points] : run.divergence_by_layer()) {
    if (!filter.layer.empty() && layer != filter.layer) continue;
    for (const auto& p : points) {
      json.begin_object().key("step").value(p.step).key("layer").value(layer);
      json.key("value").value(p.value).key("worst_channel").value(p.worst_channel).end_object();
    }
  }
  json.end_array().key("statistics").begin_array();
  run.for_each_stat(filter, [&](const store::StatRow& r) {
    stop_here_if_signalled("stopped");
    json.begin_object().key("step").value(r.step).key("layer").value(r.layer);
    json.key("sync_point").value(r.sync_point).key("copy").value(r.key.label());
    json.key("channel").value(r.channel).key("statistic").value(statistic_name(r.statistic));
    json.key("value").value(r.value).end_object();
  });
  json.end_array().end_object();
  out << "\n";
}

}  // namespace

int run_export(const std::vector<std::string>& raw) {
  const Arguments args(
      raw, {"csv", "summaries", "json", "plot", "size", "layer", "channels", "statistic"}, {});
  if (args.positional().size() != 1) throw UsageError("expected one RUN.sqlite");
  catch_stop_signals();  // Ctrl-C leaves no partial file (StoppedBySignal, which main says)
  if (!args.has("csv") && !args.has("summaries") && !args.has("json") && !args.has("plot")) {
    throw UsageError("expected --csv FILE, --summaries FILE, --json FILE or --plot FILE");
  }
#ifndef REPLICASCOPE_HAVE_UI
  if (args.has("plot")) {
    throw std::invalid_argument(
        "--plot: this build has no Qt 6 and QCustomPlot (install qt6-base-dev qt6-svg-dev "
        "libqcustomplot-dev and rebuild)");
  }
#endif
  std::vector<std::pair<std::string, std::string>> outputs;
  for (const char* flag : {"csv", "summaries", "json", "plot"}) {
    if (args.has(flag)) outputs.emplace_back(std::string("--") + flag, args.get(flag, ""));
  }
  if (args.get("plot", "") == "-") throw UsageError("--plot expects a file name, got '-'");
  store::check_outputs(args.positional()[0], outputs);
  const store::RunReader run(args.positional()[0]);
  const auto filter = filter_of(args);
  if (!filter.layer.empty()) run.require_layer(filter.layer);
  store::check_channels(run, filter);
  if (args.has("csv")) store::write_csv(run, filter, args.get("csv", ""));
  if (args.has("summaries")) {
    store::write_output(args.get("summaries", ""), [&](std::ostream& out) {
      store::write_summaries_csv(run, filter.layer, out);
    });
  }
  if (args.has("json")) {
    store::write_output(args.get("json", ""),
                        [&](std::ostream& out) { write_json(run, filter, out); });
  }
#ifdef REPLICASCOPE_HAVE_UI
  if (args.has("plot")) {
    if (filter.layer.empty()) throw UsageError("--plot needs --layer NAME");
    PlotRequest request;
    request.path = args.get("plot", "");
    request.selection.layer = filter.layer;
    request.selection.statistic = filter.statistic.value_or(Statistic::kMean);
    request.selection.first_channel = filter.first_channel;
    request.selection.last_channel =
        args.has("channels") ? filter.last_channel : filter.first_channel;
    const auto size = args.get("size", "900x500");
    char tail = 0;
    if (std::sscanf(size.c_str(), "%dx%d%c", &request.width, &request.height, &tail) != 2 ||
        request.width < 16 || request.height < 16 || request.width > 20000 ||
        request.height > 20000) {
      throw UsageError("--size expects WxH in pixels (16 to 20000), got '" + size + "'");
    }
    export_plot(run, request);
  }
#endif
  return 0;
}

}  // namespace replicascope::cli
