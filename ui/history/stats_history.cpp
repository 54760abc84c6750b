// SPDX-License-Identifier: GPL-3.0-or-later
#include "history/stats_history.h"

#include <QDir>
#include <QFileInfo>
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace replicascope::ui {

bool natural_less(const std::string& a, const std::string& b) {
  // QCollator's numeric mode needs ICU and a locale; names of layers need neither.
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t end_a = i, end_b = j;
      while (end_a < a.size() && std::isdigit(static_cast<unsigned char>(a[end_a]))) ++end_a;
      while (end_b < b.size() && std::isdigit(static_cast<unsigned char>(b[end_b]))) ++end_b;
      // Without leading zeros, the longer run is the larger number.
      const auto x = a.substr(i, end_a - i), y = b.substr(j, end_b - j);
      const auto trim = [](const std::string& s) {
        const auto first = s.find_first_not_of('0');
        return first == std::string::npos ? std::string("0") : s.substr(first);
      };
      const auto tx = trim(x), ty = trim(y);
      if (tx.size() != ty.size()) return tx.size() < ty.size();
      if (tx != ty) return tx < ty;
      i = end_a, j = end_b;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i, ++j;
  }
  return a.size() - i < b.size() - j;
}

void StatsHistory::clear() {
  steps_.clear();
  loss_.clear();
  accuracy_.clear();
  divergence_.clear();
  live_.reset({});
  for (auto& run : compared_) run.overlay.clear();
  latest_.reset();
  latest_compared_.clear();
  ranks_ = 1;
  kept_steps_.clear();
  kept_read_until_ = 0;
  steps_read_ = 0;
  awaiting_ = false;
  ++epoch_;
  ++view_;
}

void StatsHistory::load_recorded(const ModelSnapshot& snapshot) {
  clear();
  update_recorded(snapshot);
}

namespace {

// A run's rows as the plots' columns.
void read_rows(const RecordedHistory& recorded, std::vector<double>& steps,
               std::vector<double>& loss, std::vector<double>& accuracy,
               DivergenceHistory& divergence) {
  steps.clear();
  loss.clear();
  accuracy.clear();
  divergence.clear();
  for (const auto& row : recorded.steps) {
    steps.push_back(static_cast<double>(row.step));
    loss.push_back(row.loss);
    accuracy.push_back(row.accuracy);
  }
  for (const auto& [layer, points] : recorded.divergence) divergence.add(layer, points);
}

}  // namespace

void StatsHistory::update_recorded(const ModelSnapshot& snapshot) {
  ++epoch_;
  read_rows(snapshot.recorded, steps_, loss_, accuracy_, divergence_);
  ranks_ = std::max(1, snapshot.wiring.ranks());
  kept_steps_.clear();
  for (const auto& row : snapshot.recorded.steps) {
    if (row.detail) kept_steps_.push_back(row.step);
  }
  kept_read_until_ = steps_.empty() ? 0 : steps_.back();
  steps_read_ = steps_.size();
}

bool StatsHistory::set_kept_steps(std::vector<int64_t> steps) {
  const double newest = steps_.empty() ? 0 : steps_.back();
  if (steps == kept_steps_ && newest == kept_read_until_) return false;
  kept_steps_ = std::move(steps);
  kept_read_until_ = newest;
  steps_read_ = steps_.size();
  ++epoch_;  // points at steps no longer kept go: every line is drawn afresh
  return true;
}

bool StatsHistory::keeps(double step) const {
  return step > kept_read_until_ ||
         std::binary_search(kept_steps_.begin(), kept_steps_.end(), static_cast<int64_t>(step));
}

void StatsHistory::set_compared_run(const RunPoll& run) {
  auto* compared = compared_run(run.run_path);
  if (!compared) return;  // no longer compared
  ++epoch_;
  read_rows(run.recorded, compared->steps, compared->loss, compared->accuracy,
            compared->divergence);
}

void StatsHistory::keep_compared(const QStringList& paths) {
  std::vector<ComparedRun> kept;
  for (const auto& path : paths) {
    auto* old = compared_run(path);
    if (old) {
      kept.push_back(std::move(*old));
    } else {
      kept.push_back({path, {}, true, {}, {}, {}, {}, {}});  // named below
    }
  }
  compared_ = std::move(kept);
  // Runs of the same name in different folders are named with their folder too, so that the
  // legend tells them apart.
  for (auto& run : compared_) {
    const QFileInfo file(run.path);
    run.name = file.completeBaseName();
    for (const auto& other : compared_) {
      if (&other != &run && QFileInfo(other.path).completeBaseName() == run.name) {
        run.name = file.dir().dirName() + "/" + run.name;
        break;
      }
    }
  }
}

ComparedRun* StatsHistory::compared_run(const QString& path) {
  for (auto& run : compared_) {
    if (run.path == path) return &run;
  }
  return nullptr;
}

void StatsHistory::append(const replicascope::StepRecord& record) {
  const auto step = static_cast<double>(record.step);
  steps_.push_back(step);
  loss_.push_back(record.loss);
  accuracy_.push_back(record.accuracy);
  for (const auto& layer : record.layers)
    divergence_.add(layer.layer, step, layer.sync_point, layer.divergence);
  if (!awaiting_) live_.add(record);
}

std::vector<std::string> StatsHistory::divergence_layers() const {
  std::vector<std::string> out;
  std::set<std::string> placed;
  for (const auto& name : layer_order_) {
    if (divergence().count(name) && placed.insert(name).second) out.push_back(name);
  }
  std::vector<std::string> rest;
  for (const auto& [name, series] : divergence()) {
    if (!placed.count(name)) rest.push_back(name);
  }
  std::sort(rest.begin(), rest.end(), natural_less);
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

std::vector<LayerCall> StatsHistory::divergence_rows() const {
  std::vector<LayerCall> rows;
  for (const auto& layer : divergence_layers()) {
    const auto calls = divergence_.calls(layer);
    for (int64_t call = 0; call < calls; ++call) rows.push_back({layer, call, calls});
  }
  return rows;
}

LayerCall StatsHistory::selected_call() const {
  const auto& s = selection();
  return {s.layer, s.sync_point, std::max(calls(s.layer), s.sync_point + 1)};
}

SeriesRequest StatsHistory::select(const store::SeriesSelection& selection,
                                   const QStringList& compared) {
  live_ = store::SeriesBuilder(selection);
  keep_compared(compared);
  for (auto& run : compared_) run.overlay.clear();
  awaiting_ = true;
  ++epoch_;
  ++view_;
  SeriesRequest request;
  request.generation = ++generation_;
  request.selection = selection;
  request.overlay_paths = compared;
  return request;
}

SeriesRequest StatsHistory::reselect(const QStringList& compared) {
  keep_compared(compared);
  awaiting_ = true;
  SeriesRequest request;
  request.generation = ++generation_;
  request.selection = live_.selection();
  request.overlay_paths = compared;
  return request;
}

bool StatsHistory::accept(const SeriesReply& reply) {
  if (reply.generation != generation_) return false;
  live_.reset(reply.series);
  for (const auto& overlay : reply.overlays) {
    if (auto* run = compared_run(overlay.path)) {
      run->overlay = overlay.series;
      run->synchronized = overlay.synchronized;
    }
  }
  awaiting_ = false;
  ++epoch_;
  return true;
}

}  // namespace replicascope::ui
