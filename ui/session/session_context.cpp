// SPDX-License-Identifier: GPL-3.0-or-later
#include "session/session_context.h"

#include <algorithm>
#include <utility>

#include "itemmodels/findings_model.h"

namespace replicascope::ui {

SessionContext::SessionContext(QObject* parent)
    : QObject(parent),
      plots_(engine_, [this] { return live(); }),
      follower_([this](const QString& path) { engine_.pollRun(path); }) {
  connect_engine();
  connect(&plots_, &PlottedStatistics::historyChanged, this,
          [this] { tell([](SessionViewer& v) { v.on_history_changed(); }); });
  connect(&plots_, &PlottedStatistics::failed, this, &SessionContext::report_error);
  connect(&follower_, &RunFollower::grew, this, &SessionContext::on_run_grew);
  connect(&follower_, &RunFollower::followingChanged, this,
          [this](bool on) { tell([on](SessionViewer& v) { v.on_following_changed(on); }); });
  connect(&follower_, &RunFollower::failed, this, &SessionContext::report_error);
}

void SessionContext::connect_engine() {
  connect(&engine_, &EngineController::opened, this, &SessionContext::on_opened);
  connect(&engine_, &EngineController::stepped, this, &SessionContext::on_stepped);
  connect(&engine_, &EngineController::keptStepsRead, this, [this](const KeptStepsPtr& read) {
    if (!live() || !read->error.isEmpty()) return;  // read again at the next steps
    plots_.set_kept_steps(read->steps);
    tell([&](SessionViewer& v) { v.on_kept_steps(read->steps); });
  });
  connect(&engine_, &EngineController::sessionReset, this, [this] {
    plots_.restart();
    tell([](SessionViewer& v) { v.on_reset(); });
    clear_findings(/*live=*/true);
  });
  connect(&engine_, &EngineController::findingsChanged, this, &SessionContext::on_findings);
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
}

void SessionContext::on_run_grew(const ModelSnapshotPtr& grown) {
  if (snapshot_ != nullptr && snapshot_->run_path != grown->run_path) return;
  snapshot_ = grown;
  plots_.update_recorded(*grown);
  if (!has_statistics(plots_.plotted().layer)) {
    select_first_layer();  // opened before its first step: it has layers to show now
  } else {
    plots_.ask_again();
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
  plots_.start(*snapshot);  // nothing plotted until select_first_layer
  follower_.follow(snapshot);
  tell([&](SessionViewer& v) { v.on_opened(*snapshot); });
  tell([&](SessionViewer& v) { v.on_breakpoints_changed(engine_.breakpoints()); });
  select_first_layer();
  clear_findings(snapshot->live);
  select_at_open_ = !snapshot->live;
  emit opened(snapshot);
}

void SessionContext::clear_findings(bool live) {
  auto none = std::make_shared<FindingsReport>();
  none->live = live;
  findings_ = none;
  selected_finding_ = -1;
  select_at_open_ = false;
  findings_error_.clear();
  tell([&](SessionViewer& v) { v.on_findings_changed(*none, nullptr); });
}

void SessionContext::on_findings(const FindingsPtr& report) {
  if (!snapshot_ || report->live != snapshot_->live) return;  // of what was open before
  // A damaged run is said where other read errors are, once (a followed run is checked again).
  if (!report->error.isEmpty() && report->error != std::exchange(findings_error_, report->error))
    report_error("could not check the run for findings: " + report->error);
  // The finding selected stays selected as it grows (a later step, a higher severity).
  const auto* before = selected_finding();
  int selected = -1;
  for (size_t i = 0; before && i < report->findings.size() && selected < 0; ++i) {
    if (same_place(report->findings[i], *before)) selected = static_cast<int>(i);
  }
  findings_ = report;
  selected_finding_ = selected;
  tell([&](SessionViewer& v) { v.on_findings_changed(*report, selected_finding()); });
  if (std::exchange(select_at_open_, false) && !report->findings.empty()) select_finding(0);
  emit findingsChanged(report);
}

const diagnose::Finding* SessionContext::selected_finding() const {
  return selected_finding_ < 0 ? nullptr : &findings_->findings[selected_finding_];
}

void SessionContext::select_finding(int index) {
  const auto report = findings_;  // the finding stays while the viewers are told
  const bool valid = index >= 0 && index < static_cast<int>(report->findings.size());
  selected_finding_ = valid ? index : -1;
  const auto* finding = selected_finding();
  // Its layer and call, where the plots can show them (the loss's findings have no layer).
  if (finding && has_statistics(finding->layer)) select_call(finding->layer, finding->sync_point);
  tell([&](SessionViewer& v) { v.on_finding_selected(finding); });
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
  plots_.append(record);
  tell([&](SessionViewer& v) { v.on_stepped(*record); });
  emit stepped(record);
}

void SessionContext::select(const std::string& module) {
  if (module != selected_) set_selection(module);
}

void SessionContext::select_call(const std::string& layer, int64_t sync_point) {
  const auto& plotted = plots_.plotted();
  if (layer != selected_ || layer != plotted.layer || sync_point != plotted.sync_point)
    set_selection(layer, sync_point);
}

void SessionContext::set_selection(const std::string& module, int64_t sync_point) {
  selected_ = module;
  // A module without statistics (a container, a convolution) leaves the plots as they are; the
  // first selection of an open clears them when no layer has statistics.
  if (has_statistics(module) || !has_statistics(plots_.plotted().layer)) {
    plots_.plot_layer(has_statistics(module) ? module : std::string(), sync_point);
  }
  tell([&](SessionViewer& v) { v.on_selection_changed(module); });
}

bool SessionContext::has_statistics(const std::string& module) const {
  if (!snapshot_) return false;
  if (!snapshot_->live) return snapshot_->recorded.divergence.count(module) > 0;
  return std::any_of(snapshot_->modules.begin(), snapshot_->modules.end(),
                     [&](const ModelModule& m) { return m.name == module && m.synchronized; });
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
