// SPDX-License-Identifier: GPL-3.0-or-later
#include "controller/request_queue.h"

#include <algorithm>

namespace replicascope::ui {

RequestQueue::RequestQueue(QObject* runner) : runner_(runner) {}

void RequestQueue::post(Request request, const std::string& tag) {
  bool schedule = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto queued = tag.empty() ? queue_.end()
                              : std::find_if(queue_.begin(), queue_.end(),
                                             [&](const Entry& e) { return e.tag == tag; });
    if (queued != queue_.end()) {
      queued->request = std::move(request);  // keeps its place: it was asked for then
    } else {
      queue_.push_back({tag, std::move(request)});
    }
    schedule = !scheduled_;
    scheduled_ = true;
  }
  if (schedule) {
    QMetaObject::invokeMethod(
        runner_, [this] { run_one(); }, Qt::QueuedConnection);
  }
}

size_t RequestQueue::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

void RequestQueue::run_one() {
  Request request;
  bool more = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.empty()) {
      scheduled_ = false;
      return;
    }
    request = std::move(queue_.front().request);
    queue_.pop_front();
    more = scheduled_ = !queue_.empty();
  }
  // The next one waits for its own event, behind whatever else the thread has to do.
  if (more)
    QMetaObject::invokeMethod(
        runner_, [this] { run_one(); }, Qt::QueuedConnection);
  request();
}

}  // namespace replicascope::ui
