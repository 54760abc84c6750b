// SPDX-License-Identifier: MIT
// Breakpoints at sync points: during a step, every copy stops at a synchronized layer's
// rendezvous, after the reduction and before any copy gets the result, until someone resumes.
// Set a BreakpointGate as a Session's sync listener; resume it from any other thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "replicascope/engine/resume_mode.h"
#include "replicascope/nn/stats_observer.h"

namespace replicascope::engine {

class BreakpointGate : public nn::StatsObserver {
 public:
  // Called on the paused master copy's thread with what the copies brought and the reduced
  // result, before it waits: quick, and it must not resume the gate itself.
  using PauseHandler = std::function<void(const nn::SyncEvent&)>;
  explicit BreakpointGate(PauseHandler on_pause) : on_pause_(std::move(on_pause)) {}

  // The layers (qualified names) to pause at. Any thread.
  void set_breakpoints(std::set<std::string> layers);
  std::set<std::string> breakpoints() const;
  void toggle_breakpoint(const std::string& layer);

  // Before each step: a "run to the end of the batch" ends with its batch.
  void begin_step();
  // Lets the paused copies go on (nothing happens when none is paused). Any thread.
  void resume(ResumeMode mode);
  // Lets the paused copies go on and pauses no more until arm(): how a session stops cleanly.
  void release();
  void arm();
  bool paused() const;

  void on_sync(const nn::SyncEvent& event) override;

 private:
  PauseHandler on_pause_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::set<std::string> layers_;
  ResumeMode mode_ = ResumeMode::kContinue;
  bool paused_ = false;
  bool released_ = false;
};

}  // namespace replicascope::engine
