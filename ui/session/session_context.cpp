#include "session/session_context.h"

#include <algorithm>

namespace replicascope::ui {

SessionContext::SessionContext(QObject* parent) : QObject(parent) {
  connect(&engine_, &EngineController::opened, this, &SessionContext::on_opened);
  connect(&engine_, &EngineController::stepped, this, &SessionContext::on_stepped);
  connect(&engine_, &EngineController::seriesReady, this, [this](const SeriesReplyPtr& reply) {
    if (!history_.accept(*reply)) return;  // stale: a newer selection is on its way
    if (!reply->error.isEmpty()) tell([&](SessionViewer& v) { v.on_error(reply->error); });
    tell([](SessionViewer& v) { v.on_history_changed(); });
  });
  connect(&engine_, &EngineController::channelsReady, this, [this](const ChannelsReplyPtr& reply) {
    // Asked for another layer, or a live session went back to its newest step since.
    if ((live() && !pinned_) || reply->request.layer != shown_.layer) return;
    if (!reply->error.isEmpty()) tell([&](SessionViewer& v) { v.on_error(reply->error); });
    history_.set_latest(reply->record, reply->compared);
    tell([](SessionViewer& v) { v.on_history_changed(); });
  });
  connect(&engine_, &EngineController::keptStepsRead, this, [this](const KeptStepsPtr& read) {
    if (!live() || !read->error.isEmpty()) return;  // read again at the next steps
    tell([&](SessionViewer& v) { v.on_kept_steps(read->steps); });
  });
  connect(&engine_, &EngineController::sessionReset, this, [this] {
    pinned_ = false;
    channels_step_ = -1;
    newest_.reset();
    history_.clear();
    request_series();
    tell([](SessionViewer& v) { v.on_reset(); });
  });
  connect(&engine_, &EngineController::runningChanged, this,
          [this](bool running) { tell([&](SessionViewer& v) { v.on_running_changed(running); }); });
  connect(&engine_, &EngineController::paused, this, [this](const BreakpointHitPtr& hit) {
    tell([&](SessionViewer& v) { v.on_paused(*hit); });
  });
  connect(&engine_, &EngineController::resumed, this,
          [this] { tell([](SessionViewer& v) { v.on_resumed(); }); });
  connect(&engine_, &EngineController::breakpointsChanged, this, [this] {
    tell([&](SessionViewer& v) { v.on_breakpoints_changed(engine_.breakpoints()); });
  });
  connect(&engine_, &EngineController::failed, this, &SessionContext::report_error);
  connect(&engine_, &EngineController::runPolled, this, &SessionContext::on_run_polled);
  connect(&engine_, &EngineController::comparisonRead, this, [this](const RunPollPtr& run) {
    if (!compared_.contains(run->run_path)) return;  // cleared since
    if (!run->error.isEmpty()) {
      // Said once; not compared any more, so later reads do not fail on it again.
      compared_.removeAll(run->run_path);
      request_series();
      report_error("cannot compare with " + run->run_path + ": " + run->error);
      return;
    }
    history_.set_compared_run(*run);
    tell([](SessionViewer& v) { v.on_history_changed(); });
  });
  poll_timer_.setSingleShot(true);
  connect(&poll_timer_, &QTimer::timeout, this, [this] {
    if (snapshot_ && !snapshot_->live) engine_.pollRun(snapshot_->run_path);
  });
}

void SessionContext::on_run_polled(const RunPollPtr& poll) {
  if (!snapshot_ || snapshot_->live || poll->run_path != snapshot_->run_path) return;
  if (!poll->error.isEmpty()) {
    // A read can fail for a moment while the writer closes or checkpoints: try again, and say
    // so only when it keeps failing (the file went or broke; what was read stays on screen).
    if (++failed_polls_ < kFailedPollsToReport) {
      poll_timer_.start(kPollIntervalMs);
      return;
    }
    set_following(false);
    report_error("following " + poll->run_path + " stopped: " + poll->error);
    return;
  }
  failed_polls_ = 0;
  // A big run takes a while to read: read it at most a fifth of the time.
  poll_timer_.start(std::max(kPollIntervalMs, static_cast<int>(5 * poll->read_ms)));
  if (!poll->grew) {
    // Still following for a few seconds: a slow training writes a step now and then.
    if (following_ && since_growth_.elapsed() > 10 * kPollIntervalMs) set_following(false);
    return;
  }
  auto grown = std::make_shared<ModelSnapshot>(*snapshot_);
  grown->recorded_steps = poll->steps;
  grown->recorded_divergence = poll->divergence;
  snapshot_ = grown;
  history_.update_recorded(*grown);
  since_growth_.restart();
  set_following(true);
  if (!has_statistics(shown_.layer)) {
    select_first_layer();  // opened before its first step: it has layers to show now
  } else {
    engine_.requestSeries(history_.reselect(compared_));
  }
  tell([&](SessionViewer& v) { v.on_run_grew(*grown); });
}

void SessionContext::set_following(bool on) {
  if (following_ == on) return;
  following_ = on;
  tell([on](SessionViewer& v) { v.on_following_changed(on); });
}

void SessionContext::add_viewer(SessionViewer* viewer) {
  if (std::find(viewers_.begin(), viewers_.end(), viewer) == viewers_.end())
    viewers_.push_back(viewer);
}

void SessionContext::remove_viewer(SessionViewer* viewer) {
  viewers_.erase(std::remove(viewers_.begin(), viewers_.end(), viewer), viewers_.end());
}

void SessionContext::on_opened(const ModelSnapshotPtr& snapshot) {
  snapshot_ = snapshot;
  pinned_ = false;
  channels_step_ = -1;
  newest_.reset();
  set_following(false);
  failed_polls_ = 0;
  if (snapshot->live) {
    poll_timer_.stop();
  } else {
    poll_timer_.start(kPollIntervalMs);  // another process may still be writing it
  }
  history_.clear();
  history_.set_synchronized(snapshot->synchronized);
  std::vector<std::string> order;
  for (const auto& m : snapshot->modules) order.push_back(m.name);
  history_.set_layer_order(std::move(order));
  if (!snapshot->live) history_.load_recorded(*snapshot);
  tell([&](SessionViewer& v) { v.on_opened(*snapshot); });
  tell([&](SessionViewer& v) { v.on_breakpoints_changed(engine_.breakpoints()); });
  select_first_layer();
}

void SessionContext::select_first_layer() {
  // The first layer with statistics is the one shown until the user picks another.
  std::string first;
  for (const auto& m : snapshot_->modules) {
    if (has_statistics(m.name)) {
      first = m.name;
      break;
    }
  }
  set_selection(first);  // told afresh even when the name is the one shown before
  if (!has_statistics(first)) show_statistics({});
}

void SessionContext::on_stepped(const StepRecordPtr& record) {
  history_.append(*record);
  newest_ = record;
  if (!pinned_) history_.set_latest(record);
  tell([&](SessionViewer& v) { v.on_stepped(*record); });
}

void SessionContext::select(const std::string& module) {
  if (module != selected_) set_selection(module);
}

void SessionContext::set_selection(const std::string& module) {
  selected_ = module;
  tell([&](SessionViewer& v) { v.on_selection_changed(module); });
}

bool SessionContext::has_statistics(const std::string& module) const {
  if (!snapshot_) return false;
  if (!snapshot_->live) return snapshot_->recorded_divergence.count(module) > 0;
  return std::any_of(snapshot_->modules.begin(), snapshot_->modules.end(),
                     [&](const ModelModule& m) { return m.name == module && m.synchronized; });
}

void SessionContext::show_statistics(const store::SeriesSelection& selection) {
  shown_ = selection;
  request_series();
  tell([](SessionViewer& v) { v.on_history_changed(); });
}

void SessionContext::show_channels_at(int64_t step) {
  channels_step_ = step;
  if (shown_.layer.empty()) return;
  pinned_ = live();
  engine_.requestChannels({shown_.layer, shown_.sync_point, step, compared_});
}

void SessionContext::show_newest_channels() {
  if (!live() || !pinned_) return;
  pinned_ = false;
  history_.set_latest(newest_);
  tell([](SessionViewer& v) { v.on_history_changed(); });
}

void SessionContext::compare_with(const QStringList& run_paths) {
  if (run_paths.isEmpty()) compared_.clear();
  for (const auto& path : run_paths) {
    if (compared_.contains(path)) continue;
    compared_ << path;
    // Its loss and divergence, for the Loss and Divergence tabs; its statistics come with the
    // series (one request below for them all).
    engine_.readComparison(path);
  }
  request_series();
  // A kept step's channels are shown with the compared runs' at that step.
  if (channels_step_ >= 0 && (!live() || pinned_)) show_channels_at(channels_step_);
  tell([](SessionViewer& v) { v.on_history_changed(); });
}

void SessionContext::request_series() {
  engine_.requestSeries(history_.select(shown_, compared_));
}

void SessionContext::report_error(const QString& what) {
  tell([&](SessionViewer& v) { v.on_error(what); });
}

bool SessionContext::toggle_breakpoint(const std::string& module) {
  if (!live() || !has_statistics(module)) return false;
  engine_.toggleBreakpoint(module);
  return true;
}

}  // namespace replicascope::ui
