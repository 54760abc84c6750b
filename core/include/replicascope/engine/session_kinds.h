// SPDX-License-Identifier: MIT
// The choices of a training session that both its description (SessionSpec) and the Session's
// options name.
#pragma once

namespace replicascope::engine {

enum class OptimizerKind { kSgd, kAdam };
enum class LossKind { kCrossEntropy, kMse };

// The learning rates a session takes when none is given. SGD's (momentum 0.9) is one that a
// first session of torchvision's models at batch 32 trains at without its loss running away:
// resnet50's loss went from 2.5 to 77 in 20 steps at 0.05, to 28 at 0.01 and to 6.5 at 0.005,
// and stayed within 1.5x of its start at 0.003 over three seeds, as inception_v3's, googlenet's,
// mobilenet_v3_large's and r3d_18's did (docs/benchmarks.md, "Defaults: the learning rate of a
// first session"); the demo CNN is as accurate at it after 600 steps, within a point. Adam's is
// PyTorch's.
constexpr double kDefaultSgdLearningRate = 0.003;
constexpr double kDefaultAdamLearningRate = 0.001;
constexpr double default_learning_rate(OptimizerKind optimizer) {
  return optimizer == OptimizerKind::kAdam ? kDefaultAdamLearningRate : kDefaultSgdLearningRate;
}

}  // namespace replicascope::engine
