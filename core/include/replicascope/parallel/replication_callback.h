// SPDX-License-Identifier: MIT
// The opt-in interface of a module that wants to know it was replicated.
#pragma once

#include <exception>

namespace replicascope {

class CallbackContext;

// A module implements this to receive data_parallel_replicate(ctx, copy_id) on every copy after
// replication (the C++ spelling of Python's __data_parallel_replicate__). Copy 0 is the master;
// all of its callbacks run before any other copy's.
class ReplicationCallback {
 public:
  virtual ~ReplicationCallback() = default;

  virtual void data_parallel_replicate(CallbackContext& ctx, int copy_id) = 0;

  // Called on every callback module of a copy when that copy has finished one data-parallel
  // step (its forward), with the exception it ended with, if any. Synchronized layers use it to
  // tell a copy that called them fewer times, or failed, from one that is merely slow, so no
  // copy waits for a partner that will never come.
  virtual void data_parallel_step_end(std::exception_ptr /*error*/) {}
};

}  // namespace replicascope
