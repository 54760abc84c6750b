// SPDX-License-Identifier: MIT
// What a run file keeps of its model, besides the statistics: the module tree and the ranks x
// copies wiring (schema version 2: tables `modules`, `wiring_columns`, `wiring_rows`,
// `wiring_cells`; version 1 kept only the wiring, as text in the metadata, which still opens).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "replicascope/base/records.h"

namespace replicascope::store {

struct RunModel {
  std::vector<ModelModule> modules;  // module order; empty when the run did not keep them
  replicascope::Wiring wiring;
};

// A module tree rebuilt from a wiring (runs of version 1 kept no module table): the model's
// modules in order, with names, types, depths and which ones get callbacks (parameter counts
// unknown: -1). A module in `recorded` (the layers with statistics) counts as synchronized when
// `synchronized`. Without wiring: the recorded layers under one root.
std::vector<ModelModule> modules_from_wiring(const replicascope::Wiring& wiring,
                                             const std::set<std::string>& recorded,
                                             bool synchronized);

// The wiring as version 1 kept it in the metadata ("wiring"), and back; wiring_from_text throws
// std::invalid_argument on text it did not write.
std::string wiring_to_text(const replicascope::Wiring& wiring);
replicascope::Wiring wiring_from_text(const std::string& text);

}  // namespace replicascope::store
