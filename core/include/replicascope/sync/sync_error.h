// SPDX-License-Identifier: MIT
// Errors and timeouts shared by every synchronization primitive.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

namespace replicascope::sync {

// A synchronization point failed: a copy threw or left the step early, a copy timed out, or the
// reduction itself failed. Every copy waiting at that sync point gets one, naming the layer, the
// copy that caused it and the sync point's sequence number within the step.
class SyncError : public std::runtime_error {
 public:
  SyncError(std::string layer, int copy_id, int64_t sequence, const std::string& what)
      : std::runtime_error(what),
        layer_(std::move(layer)),
        copy_id_(copy_id),
        sequence_(sequence) {}

  const std::string& layer() const { return layer_; }
  // The copy that caused the failure (-1 when no single copy did, e.g. the reduction failed).
  int copy_id() const { return copy_id_; }
  // The sync point's sequence number within the step: 0 for the layer's first call.
  int64_t sequence() const { return sequence_; }

 private:
  std::string layer_;
  int copy_id_;
  int64_t sequence_;
};

// How long a copy waits at a sync point before the step fails. Five minutes unless set.
std::chrono::milliseconds default_timeout();
void set_default_timeout(std::chrono::milliseconds timeout);

}  // namespace replicascope::sync
