// SPDX-License-Identifier: MIT
// How copies paused at a breakpoint go on (BreakpointGate::resume). Apart from the gate, so that
// a UI can name it without LibTorch's headers.
#pragma once

namespace replicascope::engine {

enum class ResumeMode {
  kContinue,       // to the next breakpoint
  kNextSyncPoint,  // to the next sync point of any layer
  kEndOfBatch,     // no more pauses in this step
};

}  // namespace replicascope::engine
