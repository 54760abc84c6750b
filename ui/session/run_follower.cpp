// SPDX-License-Identifier: GPL-3.0-or-later
#include "session/run_follower.h"

#include <algorithm>

namespace replicascope::ui {

RunFollower::RunFollower(std::function<void(const QString&)> poll, QObject* parent)
    : QObject(parent), poll_(std::move(poll)) {
  timer_.setSingleShot(true);
  connect(&timer_, &QTimer::timeout, this, [this] {
    if (followed_) poll_(followed_->run_path);
  });
}

void RunFollower::follow(const ModelSnapshotPtr& snapshot) {
  followed_ = snapshot && !snapshot->live ? snapshot : nullptr;
  set_following(false);
  failed_polls_ = 0;
  if (followed_) {
    timer_.start(kPollIntervalMs);  // another process may still be writing it
  } else {
    timer_.stop();
  }
}

void RunFollower::polled(const RunPoll& poll) {
  if (!followed_ || poll.run_path != followed_->run_path) return;
  if (!poll.error.isEmpty()) {
    // A read can fail for a moment while the writer closes or checkpoints: try again, and say
    // so only when it keeps failing (the file went or broke; what was read stays on screen).
    if (++failed_polls_ < kFailedPollsToReport) {
      timer_.start(kPollIntervalMs);
      return;
    }
    set_following(false);
    emit failed("following " + poll.run_path + " stopped: " + poll.error);
    return;
  }
  failed_polls_ = 0;
  // A big run takes a while to read: read it at most a fifth of the time.
  timer_.start(std::max(kPollIntervalMs, static_cast<int>(5 * poll.read_ms)));
  if (!poll.grew) {
    // Still following for a few seconds: a slow training writes a step now and then.
    if (following_ && since_growth_.elapsed() > 10 * kPollIntervalMs) set_following(false);
    return;
  }
  auto grown = std::make_shared<ModelSnapshot>(*followed_);
  grown->recorded.steps = poll.recorded.steps;
  grown->recorded.divergence = poll.recorded.divergence;
  followed_ = grown;
  since_growth_.restart();
  set_following(true);
  emit grew(grown);
}

void RunFollower::set_following(bool on) {
  if (following_ == on) return;
  following_ = on;
  emit followingChanged(on);
}

}  // namespace replicascope::ui
