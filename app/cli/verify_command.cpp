// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope-cli verify: proves that synchronized training on N copies equals full-batch
// training on one device, for a given TorchScript model.
#include <cstdio>
#include <iostream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "cli/session_args.h"
#include "replicascope/base/stop_signals.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/model/model_output.h"
#include "replicascope/parallel/devices.h"
#include "replicascope/verify/verify.h"

namespace replicascope::cli {

const char* const kVerifyUsage =
    "usage: replicascope-cli verify MODEL.pt --input-shape B,C,... [options]\n\n"
    "Runs K SGD steps of a TorchScript model from the same weights and data three ways: with its\n"
    "BatchNorm converted to synchronized batch norm on the given copies (the checked run),\n"
    "unconverted on the whole batch on one device (the reference), and the reference again on\n"
    "the batch in reverse order, with another intra-op thread count and its weights and input\n"
    "moved by one unit in the last place. The loss is the output projected on a fixed random\n"
    "tensor; the second step splits the batch unevenly; all then run once in eval mode. It\n"
    "compares outputs, input grads, parameter grads, running stats, num_batches_tracked and\n"
    "eval outputs. When forward() returns a tuple, named tuple or list, every tensor of it with\n"
    "a row per sample is compared (and projected into the loss), each named in the report\n"
    "(\"output element 1 'aux' (step 2)\").\n\n"
    "The relative difference of a tensor is max|checked - reference| / max|reference| (at least\n"
    "1% of the largest value of that quantity in that step, so that grads that are zero in\n"
    "theory do not count rounding noise as error). The second reference differs from the first\n"
    "by rounding only, so how far it moves is the model's own noise floor: rounding, amplified\n"
    "by the model. Each quantity and step is allowed the larger of the fixed tolerance (float64\n"
    "1e-6; float32 1e-4 for outputs and running stats, 1e-3 for grads; num_batches_tracked\n"
    "exact) and 10x that floor. Any NaN or infinity is a failure.\n\n"
    "Modules whose forward draws random numbers (dropout, stochastic depth, RReLU, noise; found\n"
    "in the TorchScript graphs) run in eval mode in every run when their training flag decides\n"
    "the draw; a draw no flag decides is refused. The report lists them.\n\n"
    "Exit status: 0 equal; 3 differs; 4 inconclusive: the reference moves from itself by more\n"
    "than 1e-2, or only gradients differ while the forward agrees (rounding can flip a ReLU-like\n"
    "kink); float64, a larger input or fewer steps may conclude; 1 on errors.\n\n"
    "--unsync is the negative control: the checked run uses per-copy BatchNorm, as plain data\n"
    "parallelism does, and must differ wherever a BatchNorm sees more than one copy. Without it\n"
    "the report says, on one line, how far per-copy BatchNorm's first outputs would have been.\n\n"
    "With --dist, each of several processes runs the reference on the whole batch and the\n"
    "checked model on its share (the batch split over processes x copies, in rank order), with\n"
    "statistics and gradients reduced over the processes; rank 0 prints the largest\n"
    "differences over every rank, and every rank exits with the same status.\n\n"
    "options:\n"
    "  --input-shape B,C,...\n"
    "                      the whole batch's shape (required)\n"
    "  --devices LIST      copies: cpu:N, or cuda:I,J (default cpu:2)\n"
    "  --steps K           SGD steps (default 3)\n"
    "  --seed S            seed of the data (default 0)\n"
    "  --lr X              SGD learning rate (default 0.01)\n"
    "  --dtype T           float64 or float32 (default float64)\n"
    "  --unsync            check per-copy BatchNorm instead (the negative control)\n"
    "  --output N|NAME     the element of forward()'s tuple a session trains on, as train's\n"
    "                      --output (default: the first [batch, classes] tensor); checked, and\n"
    "                      named in the report\n"
    "  --json              the report as JSON\n" REPLICASCOPE_DIST_USAGE;

namespace {

void print_json(const VerifyReport& report, const std::vector<torch::Device>& devices) {
  JsonWriter json;
  json.begin_object().key("model").value(report.model);
  json.key("devices").value(format_devices(devices));
  json.key("processes").value(int64_t{report.processes});
  json.key("checked").value(report.per_copy ? "per-copy" : "synchronized");
  json.key("dtype").value(report.dtype).key("splits").begin_array();
  for (const auto& split : report.splits) json.values(split);
  json.end_array().key("switched_off").begin_array();
  for (const auto& name : report.switched_off) json.value(name);
  json.end_array().key("differences").begin_array();
  for (const auto& d : report.differences) {
    json.begin_object().key("quantity").value(d.quantity).key("max_abs").value(d.max_abs);
    json.key("max_rel").value(d.max_rel).key("noise_floor").value(d.noise_floor);
    json.key("tolerance").value(d.tolerance).key("allowed").value(d.allowed);
    json.key("worst").value(d.worst).key("compared").value(d.compared);
    json.key("finite").value(d.finite).key("verdict").value(to_string(d.verdict));
    json.key("passed").value(d.passed()).end_object();
  }
  json.end_array().key("per_copy_outputs");
  if (report.per_copy_outputs >= 0) {
    json.value(report.per_copy_outputs);
  } else {
    json.null();
  }
  json.key("per_copy_error").value(report.per_copy_error);
  json.key("output_returns").value(report.output_returns).key("outputs_compared").begin_array();
  for (const auto& output : report.outputs_compared) json.value(output);
  json.end_array().key("trained_output").value(report.trained_output);
  const auto& ill = report.ill_conditioned;
  json.key("ill_conditioned").begin_object().key("layer").value(ill.layer);
  json.key("channel").value(ill.channel).key("mean").value(ill.mean).key("std").value(ill.std);
  json.key("amplification").value(ill.amplification()).end_object();
  json.key("verdict").value(to_string(report.verdict)).key("reason").value(report.reason);
  json.key("nothing_to_synchronize").value(report.nothing_to_synchronize);
  json.key("passed").value(report.passed()).end_object();
  std::cout << json.str() << "\n";
}

std::string sizes_text(const std::vector<int64_t>& split) {
  std::string sizes;
  for (auto s : split) sizes += (sizes.empty() ? "" : "+") + std::to_string(s);
  return sizes;
}

// Why the noise floor decided or left the check inconclusive: the most amplifying BatchNorm.
void print_ill_conditioned(const IllConditionedChannel& ill) {
  if (ill.layer.empty() || ill.amplification() < 100) return;  // not what amplifies here
  std::printf(
      "  the most ill-conditioned BatchNorm channel: layer '%s', channel %lld: mean %.3e, "
      "sqrt(var + eps) %.3e, so subtracting the mean magnifies rounding %.1ex (1/std %.3e)\n",
      ill.layer.c_str(), static_cast<long long>(ill.channel), ill.mean, ill.std,
      ill.amplification(), ill.std > 0 ? 1 / ill.std : 0.0);
}

void print_verdict(const VerifyReport& report) {
  const char* checked = report.per_copy ? "per-copy BatchNorm" : "synchronized training";
  std::string floor_decides;
  for (const auto& d : report.differences) {
    if (d.floor_decides()) floor_decides += (floor_decides.empty() ? "" : ", ") + d.quantity;
  }
  if (!floor_decides.empty() && report.verdict != Verdict::kDiffers) {
    std::printf(
        "\n(ok*) the noise floor decides %s: beyond the fixed tolerance, but within %gx of how "
        "far the reference moves from itself; the model amplifies rounding\n",
        floor_decides.c_str(), kNoiseFloorMultiple);
    print_ill_conditioned(report.ill_conditioned);
  }
  switch (report.verdict) {
    case Verdict::kEqual:
      std::printf("\n%s equals full-batch training\n", checked);
      break;
    case Verdict::kDiffers:
      std::printf("\n%s DIFFERS from full-batch training: %s\n", checked, report.reason.c_str());
      break;
    case Verdict::kInconclusive:
      std::printf(
          "\nINCONCLUSIVE: %s; no difference can be told from the model's own amplified "
          "rounding\n",
          report.reason.c_str());
      if (floor_decides.empty()) print_ill_conditioned(report.ill_conditioned);
      std::printf("  what would conclude: %sfewer --steps, or a larger --input-shape\n",
                  report.dtype == "float32" ? "--dtype float64 (the default), " : "");
      break;
  }
}

// What forward() returns when it is not one tensor: the tensors compared, each its own row.
void print_outputs(const VerifyReport& report) {
  if (report.output_returns.empty()) return;
  std::string line = "forward() returns " + report.output_returns + "; compared: ";
  for (size_t i = 0; i < report.outputs_compared.size(); ++i)
    line += (i ? ", " : "") + report.outputs_compared[i];
  if (!report.trained_output.empty()) line += "; a session trains on " + report.trained_output;
  std::printf("\n%s", line.c_str());
}

void print_table(const VerifyReport& report, const std::vector<torch::Device>& devices) {
  if (report.nothing_to_synchronize) {  // no rows: none would say anything
    std::printf("%s\n", report.reason.c_str());
    return;
  }
  const auto processes =
      report.processes > 1 ? " x " + std::to_string(report.processes) + " processes" : "";
  std::printf("%s: %zu steps in %s on %s%s, samples per copy:", report.model.c_str(),
              report.splits.size(), report.dtype.c_str(), format_devices(devices).c_str(),
              processes.c_str());
  for (const auto& split : report.splits) std::printf(" %s", sizes_text(split).c_str());
  if (report.per_copy)
    std::printf("\nchecked: per-copy BatchNorm (--unsync, the negative control)");
  for (size_t i = 0; i < report.switched_off.size(); ++i) {
    std::printf("%s%s", i ? ", " : "\nrandomness switched off (eval mode in every run): ",
                report.switched_off[i].c_str());
  }
  print_outputs(report);
  std::printf("\n\n%-20s %11s %11s %13s %9s %8s  %s\n", "quantity", "max abs", "max rel",
              "ref vs itself", "allowed", "result", "worst tensor");
  for (const auto& d : report.differences) {
    const char* result = d.compared == 0                  ? "-"
                         : d.verdict == Verdict::kEqual   ? (d.floor_decides() ? "ok*" : "ok")
                         : d.verdict == Verdict::kDiffers ? "FAILED"
                                                          : "unknown";
    std::printf("%-20s %11.3e %11.3e %13.3e %9.1e %8s  %s\n", d.quantity.c_str(), d.max_abs,
                d.max_rel, d.noise_floor, d.allowed, result,
                d.compared ? d.worst.c_str() : "(not run: the checked run stopped)");
  }
  if (!report.per_copy_error.empty() && !report.per_copy) {
    std::printf("\nper-copy BatchNorm (plain data parallelism) cannot run this batch: %s\n",
                report.per_copy_error.c_str());
  } else if (report.per_copy_outputs >= 0) {
    std::printf(
        "\nper-copy BatchNorm (plain data parallelism) would move the first step's outputs "
        "by %.3e (relative)\n",
        report.per_copy_outputs);
  }
  print_verdict(report);
}

}  // namespace

int run_verify(const std::vector<std::string>& raw) {
  const Arguments args(
      raw,
      {"devices", "input-shape", "steps", "seed", "lr", "dtype", "timeout", "backend", "output"},
      {"json", "dist", "unsync"});
  if (args.positional().size() != 1) throw UsageError("expected one MODEL.pt");
  VerifyOptions options;
  options.input_shape = args.get_sizes("input-shape", "B,C,H,W");
  if (options.input_shape.size() < 2) {
    throw UsageError("--input-shape B,C,... is required, with at least two sizes");
  }
  options.devices = parse_devices(args.get("devices", "cpu:2"));
  options.steps = static_cast<int>(args.get_int("steps", 3, 1, 1000));
  options.seed = static_cast<uint64_t>(args.get_int("seed", 0, 0, INT64_MAX));
  options.learning_rate = args.get_double("lr", 0.01);
  // As train refuses it: a NaN step would make every copy differ, blamed on synchronization.
  require_finite_non_negative("--lr", options.learning_rate);
  const auto dtype = args.get("dtype", "float64");
  if (dtype != "float64" && dtype != "float32") {
    throw UsageError("--dtype expects float64 or float32, got '" + dtype + "'");
  }
  options.dtype = dtype == "float64" ? torch::kDouble : torch::kFloat;
  options.per_copy = args.has("unsync");
  options.output = args.get("output", "auto");
  check_output_choice(options.output);
  catch_stop_signals();  // Ctrl-C stops after a step (StoppedBySignal, which main says)
  options.group = join_if_dist(args, args.get("devices", "cpu:2"));
  VerifyReport report;
  try {
    report = verify(args.positional()[0], options);
  } catch (const StoppedBySignal& stopped) {  // every rank stops after the same step
    if (!options.group || options.group->rank() == 0) throw;
    return stopped.exit_status();  // rank 0 says it
  }
  if (options.group && options.group->rank() != 0) {
    // The report is the same on every rank; rank 0 prints it.
  } else if (args.has("json")) {
    print_json(report, options.devices);
  } else {
    print_table(report, options.devices);
  }
  switch (report.verdict) {
    case Verdict::kEqual:
      return 0;
    case Verdict::kDiffers:
      return 3;
    case Verdict::kInconclusive:
      return 4;
  }
  return 3;
}

}  // namespace replicascope::cli
