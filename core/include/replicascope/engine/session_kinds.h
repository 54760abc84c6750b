// SPDX-License-Identifier: MIT
// The choices of a training session that both its description (SessionSpec) and the Session's
// options name.
#pragma once

namespace replicascope::engine {

enum class OptimizerKind { kSgd, kAdam };
enum class LossKind { kCrossEntropy, kMse };

}  // namespace replicascope::engine
