// SPDX-License-Identifier: MIT
#include "replicascope/store/detail_policy.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace replicascope::store {

namespace {

// A whole number in [1, 2^40]: far more steps than any run takes.
bool parse_count(const std::string& text, int64_t* out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), nullptr, 10);
  if (errno != 0 || value < 1 || value > (int64_t{1} << 40)) return false;
  *out = value;
  return true;
}

}  // namespace

int64_t parse_detail_steps(const std::string& text) {
  if (text == "auto") return DetailOptions::kAuto;
  if (text == "all") return DetailOptions::kAll;
  int64_t value = 0;
  if (!parse_count(text, &value)) {
    throw std::invalid_argument(
        "--detail-steps expects auto, all or a number of steps of at least 1, got '" + text + "'");
  }
  return value;
}

int64_t parse_detail_every(const std::string& text) {
  int64_t value = 0;
  if (!parse_count(text, &value)) {
    throw std::invalid_argument("--detail-every expects a number of steps of at least 1, got '" +
                                text + "'");
  }
  return value;
}

std::string detail_steps_text(int64_t steps) {
  if (steps == DetailOptions::kAuto) return "auto";
  if (steps == DetailOptions::kAll) return "all";
  return std::to_string(steps);
}

int64_t auto_detail_steps(int64_t bytes_per_step) {
  const int64_t fit = kAutoDetailBytes / std::max<int64_t>(bytes_per_step, 1);
  return std::clamp(fit, kAutoDetailMinSteps, kAutoDetailMaxSteps);
}

DetailPolicy::DetailPolicy(int64_t capacity, int64_t every)
    : capacity_(capacity), every_(std::max<int64_t>(every, 1)), stride_(every_) {
  if (capacity_ != DetailOptions::kAll && capacity_ < 1) {
    throw std::invalid_argument("DetailPolicy: expected a capacity of at least 1 step, got " +
                                std::to_string(capacity_));
  }
  recent_capacity_ = capacity_ >= 4 ? capacity_ / 4 : 0;
  reservoir_capacity_ = capacity_ - recent_capacity_;
}

bool DetailPolicy::in_recent(int64_t step) const {
  return std::binary_search(recent_.begin(), recent_.end(), step);
}

int64_t DetailPolicy::recent_spacing() const {
  return stride_ >= 4 * every_ ? stride_ / 4 : every_;
}

DetailPolicy::Decision DetailPolicy::admit(int64_t step) {
  auto out = admit_to_grids(step);
  out.keep = out.keep || pinned_.count(step) > 0;
  out.evict.erase(std::remove_if(out.evict.begin(), out.evict.end(),
                                 [this](int64_t old) { return pinned_.count(old) > 0; }),
                  out.evict.end());
  return out;
}

bool DetailPolicy::keeps(int64_t step) const {
  return pinned_.count(step) > 0 || reservoir_.count(step) > 0 || in_recent(step) ||
         (capacity_ == DetailOptions::kAll && on_grid(step, every_));
}

DetailPolicy::Decision DetailPolicy::admit_to_grids(int64_t step) {
  Decision out;
  if (!on_grid(step, every_)) return out;
  if (capacity_ == DetailOptions::kAll) {
    out.keep = true;
    return out;
  }
  if (recent_capacity_ > 0 && on_grid(step, recent_spacing())) {
    recent_.push_back(step);
    if (static_cast<int64_t>(recent_.size()) > recent_capacity_) {
      const int64_t old = recent_.front();
      recent_.pop_front();
      if (!reservoir_.count(old)) out.evict.push_back(old);
    }
  }
  if (on_grid(step, stride_)) {
    reservoir_.insert(step);
    while (static_cast<int64_t>(reservoir_.size()) > reservoir_capacity_) {
      stride_ *= 2;
      for (auto it = reservoir_.begin(); it != reservoir_.end();) {
        if (on_grid(*it, stride_)) {
          ++it;
          continue;
        }
        if (!in_recent(*it) && *it != step) out.evict.push_back(*it);
        it = reservoir_.erase(it);
      }
    }
  }
  out.keep = reservoir_.count(step) > 0 || in_recent(step);
  std::sort(out.evict.begin(), out.evict.end());
  return out;
}

std::vector<int64_t> DetailPolicy::kept() const {
  std::vector<int64_t> out(reservoir_.begin(), reservoir_.end());
  out.insert(out.end(), recent_.begin(), recent_.end());
  out.insert(out.end(), pinned_.begin(), pinned_.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace replicascope::store
