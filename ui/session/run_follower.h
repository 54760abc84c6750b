// SPDX-License-Identifier: GPL-3.0-or-later
// Follows a recorded run another process may still be writing: reads it again every half second
// (at most a fifth of the time for a big run), says when it grew and whether it is still
// growing, and gives up with an error only when reads keep failing. SessionContext owns one and
// passes on what it says; it does not talk to viewers itself.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <functional>

#include "controller/engine_types.h"

namespace replicascope::ui {

class RunFollower : public QObject {
  Q_OBJECT
 public:
  static constexpr int kPollIntervalMs = 500;
  static constexpr int kFailedPollsToReport = 6;  // 3 s of failed reads in a row

  // `poll(path)` asks the engine thread to read the run again; its answer comes to polled().
  explicit RunFollower(std::function<void(const QString&)> poll, QObject* parent = nullptr);

  // Starts following `snapshot`'s run (a recorded one), or stops (null, or a live session).
  void follow(const ModelSnapshotPtr& snapshot);
  // An answer to a poll; ignored unless it is of the run followed.
  void polled(const RunPoll& poll);
  // True while the run grows (and for a few seconds after its last growth).
  bool following() const { return following_; }

 signals:
  // The run grew: the followed snapshot with the steps read now.
  void grew(replicascope::ui::ModelSnapshotPtr grown);
  void followingChanged(bool following);
  // Reads kept failing: following stopped (what was read stays).
  void failed(const QString& what);

 private:
  void set_following(bool on);
  std::function<void(const QString&)> poll_;
  ModelSnapshotPtr followed_;
  QTimer timer_;
  QElapsedTimer since_growth_;
  bool following_ = false;
  int failed_polls_ = 0;
};

}  // namespace replicascope::ui
