#include "session/session_context.h"

#include <algorithm>

namespace replicascope::ui {

SessionContext::SessionContext(QObject* parent)
    : QObject(parent), follower_([this](const QString& path) { engine_.pollRun(path); }) {
  connect_engine();
  connect(&follower_, &RunFollower::grew, this, &SessionContext::on_run_grew);
  connect(&follower_, &RunFollower::followingChanged, this,
          [this](bool on) { tell([on](SessionViewer& v) { v.on_following_changed(on); }); });
  connect(&follower_, &RunFollower::failed, this, &SessionContext::report_error);
}

void SessionContext::connect_engine() {
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
  connect(&engine_, &EngineController::runPolled, this,
          [this](const RunPollPtr& poll) { follower_.polled(*poll); });
  connect(&engine_, &EngineController::openFailed, this,
          [this](const QString& what, const QStringList& proposed) {
            tell([&](SessionViewer& v) { v.on_open_failed(what, proposed); });
          });
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
}

void SessionContext::on_run_grew(const ModelSnapshotPtr& grown) {
  if (snapshot_ != nullptr && snapshot_->run_path != grown->run_path) return;
  snapshot_ = grown;
  history_.update_recorded(*grown);
  if (!has_statistics(shown_.layer)) {
    select_first_layer();  // opened before its first step: it has layers to show now
  } else {
    engine_.requestSeries(history_.reselect(compared_));
  }
  tell([&](SessionViewer& v) { v.on_run_grew(*grown); });
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
  shown_.layer.clear();  // select_first_layer picks this snapshot's
  pinned_ = false;
  channels_step_ = -1;
  newest_.reset();
  follower_.follow(snapshot);
  history_.clear();
  history_.set_synchronized(snapshot->synchronized);
  std::vector<std::string> order;
  for (const auto& m : snapshot->modules) order.push_back(m.name);
  history_.set_layer_order(std::move(order));
  if (!snapshot->live) history_.load_recorded(*snapshot);
  tell([&](SessionViewer& v) { v.on_opened(*snapshot); });
  tell([&](SessionViewer& v) { v.on_breakpoints_changed(engine_.breakpoints()); });
  select_first_layer();
  emit opened(snapshot);
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
}

void SessionContext::on_stepped(const StepRecordPtr& record) {
  history_.append(*record);
  newest_ = record;
  if (!pinned_) history_.set_latest(record);
  tell([&](SessionViewer& v) { v.on_stepped(*record); });
  emit stepped(record);
}

void SessionContext::select(const std::string& module) {
  if (module != selected_) set_selection(module);
}

void SessionContext::set_selection(const std::string& module) {
  selected_ = module;
  // A module without statistics (a container, a convolution) leaves the plots as they are; the
  // first selection of an open clears them when no layer has statistics.
  if (has_statistics(module) || !has_statistics(shown_.layer)) {
    shown_.layer = has_statistics(module) ? module : std::string();
    request_series();
    // A kept step's channels are shown for the new layer at the same step.
    if (channels_step_ >= 0 && (!live() || pinned_)) show_channels_at(channels_step_);
  }
  tell([&](SessionViewer& v) { v.on_selection_changed(module); });
}

bool SessionContext::has_statistics(const std::string& module) const {
  if (!snapshot_) return false;
  if (!snapshot_->live) return snapshot_->recorded.divergence.count(module) > 0;
  return std::any_of(snapshot_->modules.begin(), snapshot_->modules.end(),
                     [&](const ModelModule& m) { return m.name == module && m.synchronized; });
}

void SessionContext::plot_values(const store::SeriesSelection& values) {
  auto wanted = values;
  wanted.layer = shown_.layer;
  if (wanted == shown_) return;
  shown_ = wanted;
  if (!shown_.layer.empty()) request_series();
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
  emit failed(what);
}

bool SessionContext::toggle_breakpoint(const std::string& module) {
  if (!live() || !has_statistics(module)) return false;
  engine_.toggleBreakpoint(module);
  return true;
}

void SessionContext::clear_breakpoints() {
  engine_.setBreakpoints({});
}

void SessionContext::open(const SessionSetup& setup) {
  engine_.open(setup);
}

void SessionContext::open_run(const QString& path) {
  engine_.openRun(path);
}

void SessionContext::step(int64_t count) {
  engine_.step(count);
}

void SessionContext::run() {
  engine_.run();
}

void SessionContext::pause() {
  engine_.pause();
}

void SessionContext::stop() {
  engine_.stop();
}

void SessionContext::reset() {
  engine_.reset();
}

void SessionContext::resume(engine::ResumeMode mode) {
  engine_.resume(mode);
}

}  // namespace replicascope::ui
