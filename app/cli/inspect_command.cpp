// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope-cli inspect: the module tree of a TorchScript model.
#include <cstdio>
#include <iostream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/json_writer.h"
#include "replicascope/torchscript/module_file.h"

namespace replicascope::cli {

const char* const kInspectUsage =
    "usage: replicascope-cli inspect MODEL.pt [--json]\n\n"
    "Prints the module tree of a TorchScript model (torch.jit.script(model).save(...)): each\n"
    "module's qualified name, readable type, own and subtree parameter counts, whether its\n"
    "copies will receive replication callbacks (the BatchNorm layers, which become\n"
    "synchronized) and the BatchNorm options. --json prints the same as JSON, with the full\n"
    "type names and every parameter and buffer with its shape and dtype.\n";

namespace {

std::string batch_norm_summary(const script::BatchNormInfo& bn) {
  char momentum[32] = "None";
  if (bn.momentum) std::snprintf(momentum, sizeof(momentum), "%g", *bn.momentum);
  char buffer[160];
  std::snprintf(buffer, sizeof(buffer),
                "num_features=%lld eps=%g momentum=%s affine=%s track_running_stats=%s",
                static_cast<long long>(bn.num_features), bn.eps, momentum,
                bn.affine ? "true" : "false", bn.track_running_stats ? "true" : "false");
  return buffer;
}

void write_tensors(JsonWriter& json, const std::vector<script::TensorInfo>& tensors) {
  json.begin_array();
  for (const auto& t : tensors) {
    json.begin_object().key("name").value(t.name).key("shape").values(t.shape);
    json.key("dtype").value(t.dtype).end_object();
  }
  json.end_array();
}

void print_json(const std::string& path, const std::vector<script::ModuleInfo>& modules) {
  JsonWriter json;
  json.begin_object().key("model").value(path).key("modules").begin_array();
  for (const auto& m : modules) {
    json.begin_object().key("name").value(m.name).key("depth").value(int64_t{m.depth});
    json.key("type").value(m.type).key("full_type").value(m.full_type);
    json.key("parameters").value(m.own_parameter_count);
    json.key("subtree_parameters").value(m.subtree_parameter_count);
    json.key("receives_callbacks").value(m.receives_callbacks);
    json.key("parameter_tensors");
    write_tensors(json, m.parameters);
    json.key("buffers");
    write_tensors(json, m.buffers);
    json.key("batch_norm");
    if (m.batch_norm) {
      const auto& bn = *m.batch_norm;
      json.begin_object().key("dims").value(int64_t{bn.dims});
      json.key("num_features").value(bn.num_features).key("eps").value(bn.eps).key("momentum");
      if (bn.momentum) {
        json.value(*bn.momentum);
      } else {
        json.null();
      }
      json.key("affine").value(bn.affine).key("track_running_stats").value(bn.track_running_stats);
      json.end_object();
    } else {
      json.null();
    }
    json.end_object();
  }
  json.end_array().end_object();
  std::cout << json.str() << "\n";
}

void print_table(const std::string& path, const std::vector<script::ModuleInfo>& modules) {
  int64_t synchronized = 0;
  for (const auto& m : modules) synchronized += m.receives_callbacks;
  std::printf("%s: %zu modules, %lld parameters, %lld BatchNorm layer(s) to synchronize\n\n",
              path.c_str(), modules.size(),
              static_cast<long long>(modules.empty() ? 0 : modules[0].subtree_parameter_count),
              static_cast<long long>(synchronized));
  std::printf("%-44s %-22s %12s %12s  %s\n", "module", "type", "own params", "subtree",
              "callback / BatchNorm options");
  for (const auto& m : modules) {
    const std::string label = std::string(2 * m.depth, ' ') +
                              (m.name.empty() ? "(root)" : m.name.substr(m.name.rfind('.') + 1));
    std::printf("%-44s %-22s %12lld %12lld  %s\n", label.c_str(), m.type.c_str(),
                static_cast<long long>(m.own_parameter_count),
                static_cast<long long>(m.subtree_parameter_count),
                m.batch_norm ? ("yes  " + batch_norm_summary(*m.batch_norm)).c_str() : "");
  }
}

}  // namespace

int run_inspect(const std::vector<std::string>& raw) {
  const Arguments args(raw, {}, {"json"});
  if (args.positional().size() != 1) throw UsageError("expected one MODEL.pt");
  const auto& path = args.positional()[0];
  const auto modules = script::inspect(script::load_module(path));
  if (args.has("json")) {
    print_json(path, modules);
  } else {
    print_table(path, modules);
  }
  return 0;
}

}  // namespace replicascope::cli
