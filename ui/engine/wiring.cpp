#include <unordered_map>

#include "engine/engine_types.h"

namespace replicascope::ui {

std::vector<WiringRow> wiring_rows(const ModelReplicas& replicas,
                                   const std::vector<ModelModule>& modules) {
  std::unordered_map<std::string, const ModelModule*> by_name;
  for (const auto& m : modules) by_name.emplace(m.name, &m);
  const auto& copies = replicas.copy_modules();
  std::vector<WiringRow> rows;
  for (const auto& ctx : replicas.contexts()) {
    WiringRow row;
    row.context_id = ctx->id();
    row.module = QString::fromStdString(ctx->module_name());
    const auto found = by_name.find(ctx->module_name());
    row.type =
        QString::fromStdString(found != by_name.end() ? found->second->type : ctx->module_type());
    row.expects_callbacks = found != by_name.end() && found->second->receives_callbacks;
    row.copies.resize(replicas.size());
    for (size_t c = 0; c < replicas.size(); ++c) {
      const auto index = static_cast<size_t>(ctx->id());
      row.copies[c].present = c < copies.size() && index < copies[c].size() &&
                              copies[c][index].type == ctx->module_type();
    }
    for (const auto& call : ctx->calls()) {
      if (call.copy_id < 0 || static_cast<size_t>(call.copy_id) >= row.copies.size()) continue;
      row.copies[call.copy_id].called = true;
      row.copies[call.copy_id].order = call.order;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace replicascope::ui
