// SPDX-License-Identifier: GPL-3.0-or-later
#include "session/plotted_statistics.h"

namespace replicascope::ui {

PlottedStatistics::PlottedStatistics(EngineController& engine, std::function<bool()> live,
                                     QObject* parent)
    : QObject(parent), engine_(engine), live_(std::move(live)) {
  connect_engine();
}

void PlottedStatistics::connect_engine() {
  connect(&engine_, &EngineController::seriesReady, this, [this](const SeriesReplyPtr& reply) {
    if (!history_.accept(*reply)) return;  // stale: a newer selection is on its way
    if (!reply->error.isEmpty()) emit failed(reply->error);
    emit historyChanged();
  });
  connect(&engine_, &EngineController::channelsReady, this, [this](const ChannelsReplyPtr& reply) {
    // Asked for another layer or call, or a live session went back to its newest step since.
    if ((live_() && !pinned_) || reply->request.layer != shown_.layer ||
        reply->request.sync_point != shown_.sync_point)
      return;
    if (!reply->error.isEmpty()) emit failed(reply->error);
    history_.set_latest(reply->record, reply->compared);
    emit historyChanged();
  });
  connect(&engine_, &EngineController::comparisonRead, this, [this](const RunPollPtr& run) {
    if (!compared_.contains(run->run_path)) return;  // cleared since
    if (!run->error.isEmpty()) {
      // Said once; not compared any more, so later reads do not fail on it again.
      compared_.removeAll(run->run_path);
      request_series();
      emit failed("cannot compare with " + run->run_path + ": " + run->error);
      return;
    }
    history_.set_compared_run(*run);
    emit historyChanged();
  });
}

void PlottedStatistics::start(const ModelSnapshot& snapshot) {
  shown_.layer.clear();
  clear();
  history_.set_synchronized(snapshot.synchronized);
  std::vector<std::string> order;
  for (const auto& m : snapshot.modules) order.push_back(m.name);
  history_.set_layer_order(std::move(order));
  if (!snapshot.live) history_.load_recorded(snapshot);
}

void PlottedStatistics::plot_layer(const std::string& layer, int64_t sync_point) {
  shown_.layer = layer;
  shown_.sync_point = sync_point;
  request_series();
  reshow_kept_step();  // the new layer's channels at the same kept step
}

void PlottedStatistics::plot_values(const store::SeriesSelection& values) {
  auto wanted = values;
  wanted.layer = shown_.layer;
  if (wanted == shown_) return;
  const bool other_call = wanted.sync_point != shown_.sync_point;
  shown_ = wanted;
  if (shown_.layer.empty()) return;
  request_series();
  if (other_call) reshow_kept_step();  // the Per-channel view's step, of this call
}

void PlottedStatistics::show_channels_at(int64_t step) {
  channels_step_ = step;
  if (shown_.layer.empty()) return;
  pinned_ = live_();
  engine_.requestChannels({shown_.layer, shown_.sync_point, step, compared_});
}

void PlottedStatistics::show_newest_channels() {
  if (!live_() || !pinned_) return;
  pinned_ = false;
  history_.set_latest(newest_);
  emit historyChanged();
}

void PlottedStatistics::compare_with(const QStringList& run_paths) {
  if (run_paths.isEmpty()) compared_.clear();
  for (const auto& path : run_paths) {
    if (compared_.contains(path)) continue;
    compared_ << path;
    // Its loss and divergence, for the Loss and Divergence tabs; its statistics come with the
    // series (one request below for them all).
    engine_.readComparison(path);
  }
  request_series();
  reshow_kept_step();  // with the compared runs' channels at that step
  emit historyChanged();
}

void PlottedStatistics::set_kept_steps(const std::vector<int64_t>& steps) {
  if (history_.set_kept_steps(steps)) emit historyChanged();
}

void PlottedStatistics::append(const StepRecordPtr& record) {
  history_.append(*record);
  newest_ = record;
  if (!pinned_) history_.set_latest(record);
}

void PlottedStatistics::update_recorded(const ModelSnapshot& grown) {
  history_.update_recorded(grown);
}

void PlottedStatistics::ask_again() {
  engine_.requestSeries(history_.reselect(compared_));
}

void PlottedStatistics::restart() {
  clear();
  request_series();
}

void PlottedStatistics::clear() {
  pinned_ = false;
  channels_step_ = -1;
  newest_.reset();
  history_.clear();
}

void PlottedStatistics::reshow_kept_step() {
  if (channels_step_ >= 0 && (!live_() || pinned_)) show_channels_at(channels_step_);
}

void PlottedStatistics::request_series() {
  engine_.requestSeries(history_.select(shown_, compared_));
}

}  // namespace replicascope::ui
