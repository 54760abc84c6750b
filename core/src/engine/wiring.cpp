#include "replicascope/engine/wiring.h"

#include <torch/torch.h>

#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "replicascope/dist/process_group.h"

namespace replicascope::engine {
namespace {

constexpr const char* kTextHeader = "replicascope-wiring 1";

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, separator)) out.push_back(item);
  if (!text.empty() && text.back() == separator) out.emplace_back();
  return out;
}

[[noreturn]] void malformed(const std::string& what) {
  throw std::invalid_argument("wiring metadata: " + what);
}

int to_int(const std::string& text, const std::string& what) {
  try {
    size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used != text.size()) malformed("expected a number for " + what + ", got '" + text + "'");
    return value;
  } catch (const std::logic_error&) {
    malformed("expected a number for " + what + ", got '" + text + "'");
  }
}

}  // namespace

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

std::string wiring_to_text(const Wiring& wiring) {
  // Tab-separated lines; names of modules and types hold neither tabs nor newlines.
  std::ostringstream out;
  out << kTextHeader << "\n" << wiring.copies_per_rank;
  for (const auto& device : wiring.devices) out << "\t" << device;
  out << "\n";
  for (const auto& row : wiring.rows) {
    out << row.context_id << "\t" << row.expects_callbacks << "\t" << row.module << "\t"
        << row.type;
    for (const auto& cell : row.copies) {
      out << "\t" << cell.present << "," << cell.called << "," << cell.order;
    }
    out << "\n";
  }
  return out.str();
}

Wiring wiring_from_text(const std::string& text) {
  const auto lines = split(text, '\n');
  if (lines.empty() || lines[0] != kTextHeader) {
    malformed("expected a first line '" + std::string(kTextHeader) + "'");
  }
  Wiring wiring;
  if (lines.size() < 2) malformed("expected a line of devices");
  const auto head = split(lines[1], '\t');
  wiring.copies_per_rank = to_int(head.at(0), "copies per rank");
  wiring.devices.assign(head.begin() + 1, head.end());
  const auto columns = wiring.devices.size();
  if (wiring.copies_per_rank <= 0 || columns % static_cast<size_t>(wiring.copies_per_rank) != 0) {
    malformed(std::to_string(columns) + " devices do not make whole ranks of " +
              std::to_string(wiring.copies_per_rank) + " copies");
  }
  for (size_t i = 2; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const auto fields = split(lines[i], '\t');
    if (fields.size() != 4 + columns) {
      malformed("line " + std::to_string(i + 1) + " has " + std::to_string(fields.size()) +
                " fields; expected " + std::to_string(4 + columns));
    }
    WiringRow row;
    row.context_id = to_int(fields[0], "a context id");
    row.expects_callbacks = fields[1] == "1";
    row.module = fields[2];
    row.type = fields[3];
    for (size_t c = 0; c < columns; ++c) {
      const auto parts = split(fields[4 + c], ',');
      if (parts.size() != 3)
        malformed("expected a cell 'present,called,order', got '" + fields[4 + c] + "'");
      row.copies.push_back({parts[0] == "1", parts[1] == "1", to_int(parts[2], "a call order")});
    }
    wiring.rows.push_back(std::move(row));
  }
  return wiring;
}

}  // namespace replicascope::engine
