// SPDX-License-Identifier: MIT
// The replica-to-context wiring as plain data: one row per module index (its context), one cell
// per copy saying what that copy's replication callback did. Over several processes every rank's
// copies sit side by side (ranks x copies), gathered with one collective. A run file keeps it
// (store/run_model.h), so that a recorded run shows the wiring it trained with.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "replicascope/base/records.h"
#include "replicascope/model/model.h"

namespace replicascope::engine {

// This process's copies; `modules` is the model's module list.
Wiring wiring_of(const ModelReplicas& replicas, const std::vector<ModelModule>& modules);

// Every rank's copies, rank after rank, on every rank (each must call it, with the same model
// and the same number of copies). Throws dist::DistError if the group fails, std::invalid_argument
// if the ranks' models differ.
Wiring gather_wiring(const Wiring& mine, dist::ProcessGroup& group);

}  // namespace replicascope::engine
