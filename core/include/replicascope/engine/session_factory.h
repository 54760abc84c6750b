// SPDX-License-Identifier: MIT
// The one place a training session is built from its description: the CLI's train and demo and
// the GUI's engine thread all call make_session. It loads the data, makes the model (the demo
// CNN or a TorchScript file), joins the process group for --dist, builds the Session, gathers
// the ranks x copies wiring and, when the spec names a run file, creates it with the run's
// metadata (rank 0 records).
#pragma once

#include <memory>
#include <string>

#include "replicascope/dist/process_group.h"
#include "replicascope/engine/session.h"
#include "replicascope/engine/session_spec.h"
#include "replicascope/engine/wiring.h"
#include "replicascope/store/run_writer.h"

namespace replicascope::engine {

struct BuiltSession {
  std::unique_ptr<Session> session;
  std::shared_ptr<dist::ProcessGroup> group;  // null for one process
  std::string data_spec;                      // the data it trains on, resolved from the default
  std::vector<ModelModule> modules;           // the model's, once (a walk of its module tree)
  Wiring wiring;                              // every rank's copies
  // Which tensor of forward()'s result it trains on, as the check before the first step saw
  // it (its notice() is said once; its description() is meta.model_output).
  OutputChoice output;
  store::Metadata metadata;               // what a run file of it records
  store::DetailOptions detail;            // which steps keep per-channel detail
  std::unique_ptr<store::RunWriter> run;  // null unless spec.run is set and this is rank 0
  bool rank0() const;
};

// Builds the session `spec` describes. Throws UsageError for values that cannot be used,
// data::DataError for data files, script::ModelLoadError for the model, dist::DistError for
// the process group, store::StoreError for the run file. Each step's statistics are kept when
// the session records them, or when `keep_statistics` asks for them (to print or draw).
// With spec.dist, every rank must be started alike: the settings that shape the training (model
// file content, data, devices, batch, optimizer, seed, whether it records, `steps`, ...) are
// compared when joining, and a difference fails every rank naming it (dist::ProcessGroup::join).
BuiltSession make_session(const SessionSpec& spec, bool keep_statistics = false, int64_t steps = 0);

// The options a Session gets for `spec` (devices parsed; no process group).
SessionOptions session_options(const SessionSpec& spec);

// Joins the process group torchrun's variables describe (spec.dist), with spec.backend (default:
// nccl when every one of spec.devices is a GPU and this build has it, else gloo), and bounds
// joining, every collective and in-process rendezvous by spec.timeout_seconds.
// Every rank's `settings` must be equal, or joining fails on all of them
// (dist::ProcessGroup::join).
std::shared_ptr<dist::ProcessGroup> join_group(const SessionSpec& spec,
                                               const dist::Settings& settings = {});
// The settings of `spec` that every rank must share, for join_group: flags as the command line
// spells them, and the model file's content hash.
dist::Settings shared_settings(const SessionSpec& spec, int64_t steps);

// Starts a new run file for `built` at `path` (after a reset, say): the same metadata with a new
// creation time. Replaces built.run.
void start_run(BuiltSession& built, const std::string& path);

// After a step failed: the events it left (Session::take_events, a sync point's failure) go to
// the run, when there is one. What cannot be written is left out quietly: the step's own error
// is what the caller reports.
void record_failed_step(BuiltSession& built);

}  // namespace replicascope::engine
