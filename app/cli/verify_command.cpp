// replicascope-cli verify: proves that synchronized training on N copies equals full-batch
// training on one device, for a given TorchScript model.
#include <cstdio>
#include <iostream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "cli/session_args.h"
#include "replicascope/devices.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/script/verify.h"

namespace replicascope::cli {

const char* const kVerifyUsage =
    "usage: replicascope-cli verify MODEL.pt --input-shape B,C,... [options]\n\n"
    "Runs K SGD steps of a TorchScript model twice from the same weights and data: with its\n"
    "BatchNorm converted to synchronized batch norm on the given copies, and unconverted on the\n"
    "whole batch on one device. The loss is the output projected on a fixed random tensor; the\n"
    "second step splits the batch unevenly; dropout is off; both models then run once in eval\n"
    "mode. Prints the largest absolute and relative difference of outputs, input grads,\n"
    "parameter grads, running stats, num_batches_tracked and eval outputs. The relative\n"
    "difference of a tensor is max|synchronized - reference| / max|reference| (at least 1% of the\n"
    "largest value of that quantity in that step, so that grads that are zero in theory do not\n"
    "count rounding noise as error). Exits 0 when every one is within its tolerance, 3 if not:\n"
    "float64 1e-6; float32 1e-4 for outputs and running stats, 1e-3 for grads; and\n"
    "num_batches_tracked exact.\n\n"
    "With --dist, each of several processes runs the reference on the whole batch and the\n"
    "synchronized model on its share (the batch split over processes x copies, in rank order),\n"
    "with statistics and gradients reduced over the processes; rank 0 prints the largest\n"
    "differences over every rank, and every rank exits with the same status.\n\n"
    "float64 (the default) checks the algorithm: the runs differ only by rounding. float32 checks\n"
    "at training precision, where ill-conditioned layers (a channel with almost no variance over\n"
    "a small batch) amplify rounding, in PyTorch's own BatchNorm as much as here.\n\n"
    "options:\n"
    "  --input-shape B,C,...\n"
    "                      the whole batch's shape (required)\n"
    "  --devices LIST      copies: cpu:N, or cuda:I,J (default cpu:2)\n"
    "  --steps K           SGD steps (default 3)\n"
    "  --seed S            seed of the data (default 0)\n"
    "  --lr X              SGD learning rate (default 0.01)\n"
    "  --dtype T           float64 or float32 (default float64)\n"
    "  --json              the report as JSON\n" REPLICASCOPE_DIST_USAGE;

namespace {

void print_json(const VerifyReport& report, const std::vector<torch::Device>& devices) {
  JsonWriter json;
  json.begin_object().key("model").value(report.model);
  json.key("devices").value(format_devices(devices));
  json.key("processes").value(int64_t{report.processes});
  json.key("dtype").value(report.dtype).key("splits").begin_array();
  for (const auto& split : report.splits) json.values(split);
  json.end_array().key("differences").begin_array();
  for (const auto& d : report.differences) {
    json.begin_object().key("quantity").value(d.quantity).key("max_abs").value(d.max_abs);
    json.key("max_rel").value(d.max_rel).key("tolerance").value(d.tolerance);
    json.key("worst").value(d.worst).key("compared").value(d.compared);
    json.key("passed").value(d.passed()).end_object();
  }
  json.end_array().key("passed").value(report.passed()).end_object();
  std::cout << json.str() << "\n";
}

void print_table(const VerifyReport& report, const std::vector<torch::Device>& devices) {
  const auto processes =
      report.processes > 1 ? " x " + std::to_string(report.processes) + " processes" : "";
  std::printf("%s: %zu steps in %s on %s%s, samples per copy:", report.model.c_str(),
              report.splits.size(), report.dtype.c_str(), format_devices(devices).c_str(),
              processes.c_str());
  for (const auto& split : report.splits) {
    std::string sizes;
    for (auto s : split) sizes += (sizes.empty() ? "" : "+") + std::to_string(s);
    std::printf(" %s", sizes.c_str());
  }
  std::printf("\n\n%-20s %12s %12s %10s %8s  %s\n", "quantity", "max abs", "max rel", "tolerance",
              "result", "worst tensor");
  for (const auto& d : report.differences) {
    std::printf("%-20s %12.3e %12.3e %10.0e %8s  %s\n", d.quantity.c_str(), d.max_abs, d.max_rel,
                d.tolerance, d.passed() ? "ok" : "FAILED", d.worst.c_str());
  }
  std::printf("\n%s\n", report.passed() ? "synchronized training equals full-batch training"
                                        : "synchronized training DIFFERS from full-batch training");
}

}  // namespace

int run_verify(const std::vector<std::string>& raw) {
  const Arguments args(
      raw, {"devices", "input-shape", "steps", "seed", "lr", "dtype", "timeout", "backend"},
      {"json", "dist"});
  if (args.positional().size() != 1) throw UsageError("expected one MODEL.pt");
  VerifyOptions options;
  options.input_shape = args.get_sizes("input-shape");
  if (options.input_shape.size() < 2) {
    throw UsageError("--input-shape B,C,... is required, with at least two sizes");
  }
  options.devices = parse_devices(args.get("devices", "cpu:2"));
  options.steps = static_cast<int>(args.get_int("steps", 3, 1, 1000));
  options.seed = static_cast<uint64_t>(args.get_int("seed", 0, 0, INT64_MAX));
  options.learning_rate = args.get_double("lr", 0.01);
  const auto dtype = args.get("dtype", "float64");
  if (dtype != "float64" && dtype != "float32") {
    throw UsageError("--dtype expects float64 or float32, got '" + dtype + "'");
  }
  options.dtype = dtype == "float64" ? torch::kDouble : torch::kFloat;
  options.group = join_if_dist(args, args.get("devices", "cpu:2"));
  const auto report = verify(args.positional()[0], options);
  if (options.group && options.group->rank() != 0) {
    // The report is the same on every rank; rank 0 prints it.
  } else if (args.has("json")) {
    print_json(report, options.devices);
  } else {
    print_table(report, options.devices);
  }
  return report.passed() ? 0 : 3;
}

}  // namespace replicascope::cli
