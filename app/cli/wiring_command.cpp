// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope-cli wiring: the replica-to-context map of a TorchScript model.
#include <cstdio>
#include <iostream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/parallel/devices.h"
#include "replicascope/torchscript/module_file.h"

namespace replicascope::cli {

const char* const kWiringUsage =
    "usage: replicascope-cli wiring MODEL.pt [--devices LIST] [--json]\n\n"
    "Replicates a TorchScript model (its BatchNorm converted to synchronized batch norm) and\n"
    "prints the replica-to-context map: for every module index whose copies got replication\n"
    "callbacks, its context id, module name and type, and each copy sharing the context with\n"
    "its device, role (the master, copy 0, or a slave) and place in the order the callbacks "
    "ran.\n\n"
    "options:\n"
    "  --devices LIST   copies: cpu:N, or cuda:I,J (default cpu:2)\n"
    "  --json           the same as JSON\n";

namespace {

const char* role(int copy_id) {
  return copy_id == 0 ? "master" : "slave";
}

void print_json(const std::string& path, const std::vector<torch::Device>& devices,
                const ContextList& contexts) {
  JsonWriter json;
  json.begin_object().key("model").value(path).key("devices").begin_array();
  for (const auto& device : devices) json.value(device.str());
  json.end_array().key("contexts").begin_array();
  for (const auto& ctx : contexts) {
    const auto calls = ctx->calls();
    if (calls.empty()) continue;
    json.begin_object().key("id").value(int64_t{ctx->id()}).key("module").value(ctx->module_name());
    json.key("type").value(ctx->module_type()).key("copies").begin_array();
    for (const auto& call : calls) {
      json.begin_object().key("copy").value(int64_t{call.copy_id});
      json.key("device")
          .value(devices.at(call.copy_id).str())
          .key("role")
          .value(role(call.copy_id));
      json.key("order").value(int64_t{call.order}).end_object();
    }
    json.end_array().end_object();
  }
  json.end_array().end_object();
  std::cout << json.str() << "\n";
}

void print_table(const std::string& path, const std::vector<torch::Device>& devices,
                 const ContextList& contexts) {
  size_t wired = 0;
  for (const auto& ctx : contexts) wired += !ctx->calls().empty();
  std::printf("%s on %s: %zu of %zu module indices have replication callbacks\n\n", path.c_str(),
              format_devices(devices).c_str(), wired, contexts.size());
  std::printf("%7s  %-32s %-12s  %s\n", "context", "module", "type",
              "copies (copy/device/role, callback order)");
  for (const auto& ctx : contexts) {
    const auto calls = ctx->calls();
    if (calls.empty()) continue;
    std::string copies;
    for (const auto& call : calls) {
      char cell[96];
      std::snprintf(cell, sizeof(cell), "%s%d/%s/%s #%d", copies.empty() ? "" : "  ", call.copy_id,
                    devices.at(call.copy_id).str().c_str(), role(call.copy_id), call.order);
      copies += cell;
    }
    std::printf("%7d  %-32s %-12s  %s\n", ctx->id(), ctx->module_name().c_str(),
                script::readable_type(ctx->module_type()).c_str(), copies.c_str());
  }
}

}  // namespace

int run_wiring(const std::vector<std::string>& raw) {
  const Arguments args(raw, {"devices"}, {"json"});
  if (args.positional().size() != 1) throw UsageError("expected one MODEL.pt");
  const auto& path = args.positional()[0];
  const auto devices = parse_devices(args.get("devices", "cpu:2"));
  auto model = ScriptedModel::load(path);
  const auto replicas = model->replicate(devices);
  if (args.has("json")) {
    print_json(path, devices, replicas->contexts());
  } else {
    print_table(path, devices, replicas->contexts());
  }
  return 0;
}

}  // namespace replicascope::cli
