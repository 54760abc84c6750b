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
    if (live() || reply->request.layer != shown_.layer) return;  // asked for another layer
    if (!reply->error.isEmpty()) tell([&](SessionViewer& v) { v.on_error(reply->error); });
    history_.set_latest(reply->record);
    tell([](SessionViewer& v) { v.on_history_changed(); });
  });
  connect(&engine_, &EngineController::sessionReset, this, [this] {
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
  history_.clear();
  history_.set_synchronized(snapshot->synchronized);
  std::vector<std::string> order;
  for (const auto& m : snapshot->modules) order.push_back(m.name);
  history_.set_layer_order(std::move(order));
  if (!snapshot->live) history_.load_recorded(*snapshot);
  tell([&](SessionViewer& v) { v.on_opened(*snapshot); });
  tell([&](SessionViewer& v) { v.on_breakpoints_changed(engine_.breakpoints()); });
  // The first layer with statistics is the one shown until the user picks another.
  std::string first;
  for (const auto& m : snapshot->modules) {
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
  history_.set_latest(record);
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
  if (live() || shown_.layer.empty()) return;
  engine_.requestChannels({shown_.layer, shown_.sync_point, step});
}

void SessionContext::compare_with(const QString& run_path) {
  compared_ = run_path;
  request_series();
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
