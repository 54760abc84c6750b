// SPDX-License-Identifier: MIT
#include "replicascope/engine/breakpoints.h"

namespace replicascope::engine {

void BreakpointGate::set_breakpoints(std::set<std::string> layers) {
  std::lock_guard<std::mutex> lock(mutex_);
  layers_ = std::move(layers);
}

std::set<std::string> BreakpointGate::breakpoints() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return layers_;
}

void BreakpointGate::toggle_breakpoint(const std::string& layer) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!layers_.erase(layer)) layers_.insert(layer);
}

void BreakpointGate::begin_step() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (mode_ == ResumeMode::kEndOfBatch) mode_ = ResumeMode::kContinue;
}

void BreakpointGate::resume(ResumeMode mode) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    mode_ = mode;
    paused_ = false;
  }
  cv_.notify_all();
}

void BreakpointGate::release() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    released_ = true;
    paused_ = false;
  }
  cv_.notify_all();
}

void BreakpointGate::arm() {
  std::lock_guard<std::mutex> lock(mutex_);
  released_ = false;
  mode_ = ResumeMode::kContinue;
}

bool BreakpointGate::paused() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return paused_;
}

void BreakpointGate::on_sync(const nn::SyncEvent& event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const bool stop =
        !released_ && (mode_ == ResumeMode::kNextSyncPoint ||
                       (mode_ == ResumeMode::kContinue && layers_.count(event.layer)));
    if (!stop) return;
    paused_ = true;
  }
  if (on_pause_) on_pause_(event);
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return !paused_; });
}

}  // namespace replicascope::engine
