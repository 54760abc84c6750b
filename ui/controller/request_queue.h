// SPDX-License-Identifier: GPL-3.0-or-later
// The one way from the UI thread to the engine thread (RenderDoc's AsyncInvoke): requests run
// on the engine thread in the order they were posted, one per event, so that a long run of
// steps leaves room for what the user asks meanwhile. A request with a tag replaces a queued
// request with the same tag (a newer series request makes an older unserved one pointless).
#pragma once

#include <QObject>

#include <deque>
#include <functional>
#include <mutex>
#include <string>

namespace replicascope::ui {

class RequestQueue {
 public:
  using Request = std::function<void()>;

  // `runner` lives on the engine thread: the requests run in its event loop.
  explicit RequestQueue(QObject* runner);

  // From any thread. An empty tag never replaces anything.
  void post(Request request, const std::string& tag = {});
  // Requests waiting (for tests).
  size_t pending() const;

 private:
  // On the engine thread: runs the oldest request, then leaves the next one to the next event.
  void run_one();
  struct Entry {
    std::string tag;
    Request request;
  };
  QObject* runner_;  // not owned
  mutable std::mutex mutex_;
  std::deque<Entry> queue_;
  bool scheduled_ = false;  // a run_one() event is on its way
};

}  // namespace replicascope::ui
