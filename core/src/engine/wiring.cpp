// SPDX-License-Identifier: MIT
#include "replicascope/engine/wiring.h"

#include <torch/torch.h>

#include <stdexcept>
#include <unordered_map>

#include "replicascope/dist/process_group.h"

namespace replicascope::engine {

Wiring wiring_of(const ModelReplicas& replicas, const std::vector<ModelModule>& modules) {
  std::unordered_map<std::string, const ModelModule*> by_name;
  for (const auto& m : modules) by_name.emplace(m.name, &m);
  Wiring wiring;
  for (const auto& device : replicas.devices()) wiring.devices.push_back(device.str());
  wiring.copies_per_rank = static_cast<int>(replicas.size());
  const auto& copies = replicas.copy_modules();
  for (const auto& ctx : replicas.contexts()) {
    WiringRow row;
    row.context_id = ctx->id();
    row.module = ctx->module_name();
    const auto found = by_name.find(ctx->module_name());
    row.type = found != by_name.end() ? found->second->type : ctx->module_type();
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
    wiring.rows.push_back(std::move(row));
  }
  return wiring;
}

Wiring gather_wiring(const Wiring& mine, dist::ProcessGroup& group) {
  // Each cell as (present, called, order) and each device as (type, index): int64s that every
  // rank sends in one all-gather; the shapes must match, so the ranks first agree on them.
  const auto copies = static_cast<int64_t>(mine.devices.size());
  const auto rows = static_cast<int64_t>(mine.rows.size());
  const auto shapes = group.all_gather(torch::tensor({copies, rows}), "the wiring's shape");
  for (int r = 0; r < group.size(); ++r) {
    if (shapes[r][1].item<int64_t>() != rows) {
      throw std::invalid_argument("gather_wiring: rank " + std::to_string(r) + " has " +
                                  std::to_string(shapes[r][1].item<int64_t>()) +
                                  " module indices, this rank " + std::to_string(rows) +
                                  "; expected the same model on every rank");
    }
    if (shapes[r][0].item<int64_t>() != copies) {
      throw std::invalid_argument("gather_wiring: rank " + std::to_string(r) + " has " +
                                  std::to_string(shapes[r][0].item<int64_t>()) +
                                  " copies, this rank " + std::to_string(copies) +
                                  "; expected the same number on every rank");
    }
  }
  auto packed = torch::empty({copies * 2 + rows * copies * 3}, torch::kLong);
  auto* out = packed.data_ptr<int64_t>();
  for (const auto& name : mine.devices) {
    const torch::Device device(name);
    *out++ = static_cast<int64_t>(device.type());
    *out++ = device.has_index() ? device.index() : -1;
  }
  for (const auto& row : mine.rows) {
    for (const auto& cell : row.copies) {
      *out++ = cell.present;
      *out++ = cell.called;
      *out++ = cell.order;
    }
  }
  const auto all = group.all_gather(packed, "the wiring");
  Wiring wiring;
  wiring.copies_per_rank = static_cast<int>(copies);
  wiring.rows = mine.rows;
  for (auto& row : wiring.rows) row.copies.clear();
  for (const auto& theirs : all) {
    const auto* in = theirs.data_ptr<int64_t>();
    for (int64_t c = 0; c < copies; ++c, in += 2) {
      wiring.devices.push_back(
          torch::Device(static_cast<c10::DeviceType>(in[0]), static_cast<c10::DeviceIndex>(in[1]))
              .str());
    }
    for (auto& row : wiring.rows) {
      for (int64_t c = 0; c < copies; ++c, in += 3) {
        row.copies.push_back({in[0] != 0, in[1] != 0, static_cast<int>(in[2])});
      }
    }
  }
  return wiring;
}

}  // namespace replicascope::engine
