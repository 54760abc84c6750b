// The replica-to-context wiring as plain data: one row per module index (its context), one cell
// per copy saying what that copy's replication callback did. Over several processes every rank's
// copies sit side by side (ranks x copies), gathered with one collective; a text form of it is
// kept in a run's metadata, so that a recorded run shows the wiring it trained with.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "replicascope/model/model.h"

namespace replicascope::engine {

// A module index on one copy.
struct WiringCell {
  bool present = true;  // the copy has a module at this index, of the master's type
  bool called = false;  // its replication callback ran
  int order = -1;       // its place in the order the callbacks ran (on its process)
};

// One module index across the copies.
struct WiringRow {
  int context_id = 0;
  std::string module, type;
  bool expects_callbacks = false;  // the module opts in to replication callbacks
  std::vector<WiringCell> copies;
  // A module missing on a copy, or a callback that should have run and did not.
  bool problem(size_t copy) const {
    const auto& cell = copies.at(copy);
    return !cell.present || (expects_callbacks && !cell.called);
  }
};

struct Wiring {
  std::vector<std::string> devices;  // one per column: "cpu", "cuda:1"
  int copies_per_rank = 0;           // columns per process (all of them for one process)
  std::vector<WiringRow> rows;
  int ranks() const {
    return copies_per_rank > 0 ? static_cast<int>(devices.size()) / copies_per_rank : 1;
  }
};

// This process's copies; `modules` is the model's module list.
Wiring wiring_of(const ModelReplicas& replicas, const std::vector<ModelModule>& modules);

// Every rank's copies, rank after rank, on every rank (each must call it, with the same model
// and the same number of copies). Throws dist::DistError if the group fails, std::invalid_argument
// if the ranks' models differ.
Wiring gather_wiring(const Wiring& mine, dist::ProcessGroup& group);

// The text form (for a run's "wiring" metadata) and back; wiring_from_text throws
// std::invalid_argument on text it did not write.
std::string wiring_to_text(const Wiring& wiring);
Wiring wiring_from_text(const std::string& text);

}  // namespace replicascope::engine
