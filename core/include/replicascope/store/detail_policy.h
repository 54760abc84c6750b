// SPDX-License-Identifier: MIT
// Which steps of a run keep per-channel detail. Every step keeps its summary (loss, divergence,
// per copy the means over channels); per-channel vectors are kept for a bounded set of steps: a
// reservoir spread evenly over the whole run plus the most recent steps. The reservoir keeps the
// steps on a grid (step 1, 1 + stride, 1 + 2 stride, ...) and doubles the stride when it is full,
// dropping every other kept step: the kept steps stay evenly spread however long the run grows,
// and which steps they are depends on the step numbers alone (no randomness), so two runs with
// the same options keep the same steps. The recent steps are on a grid too, four times finer
// than the reservoir's: a step writes its detail only when it is on one of them, so the detail
// written per step falls as the run grows (every step early on; 1 in 100 at 10,000 steps of a
// 34-step sample), rather than every step writing a whole model's channels to drop another's.
#pragma once

#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <vector>

namespace replicascope::store {

// What a user chooses (--detail-steps, --detail-every).
struct DetailOptions {
  static constexpr int64_t kAuto = 0;  // as many steps as fit in kAutoDetailBytes
  static constexpr int64_t kAll = -1;  // every step (as schema versions 1 to 3 kept them)
  int64_t steps = kAuto;               // how many steps keep detail at most (or kAuto, kAll)
  int64_t every = 1;                   // only steps 1, 1 + every, ... are candidates
};

// --detail-steps: "auto", "all" or a count of at least 1; throws std::invalid_argument saying
// what was expected and given. --detail-every: a whole number of at least 1.
int64_t parse_detail_steps(const std::string& text);
int64_t parse_detail_every(const std::string& text);
std::string detail_steps_text(int64_t steps);  // "auto", "all", "500"

// The per-channel detail an automatic choice may take in a run file, and the range of steps it
// keeps: a 121-layer densenet121 at 4 copies (2.6 to 2.9 MB a step) keeps about 35 steps, the
// demo 1,000.
constexpr int64_t kAutoDetailBytes = 100'000'000;
constexpr int64_t kAutoDetailMinSteps = 16;
constexpr int64_t kAutoDetailMaxSteps = 1000;
// The step count kAuto stands for, given what one step's detail takes in the file.
int64_t auto_detail_steps(int64_t bytes_per_step);

class DetailPolicy {
 public:
  // `capacity`: steps kept at most (kAll: every candidate); a quarter of it (for capacity >= 4)
  // holds the most recent candidates, the rest the reservoir.
  DetailPolicy(int64_t capacity, int64_t every);

  struct Decision {
    bool keep = false;           // this step keeps its detail
    std::vector<int64_t> evict;  // earlier steps whose detail goes now
  };
  // Steps come in increasing order (not necessarily consecutive).
  Decision admit(int64_t step);
  // Keeps `step`'s detail from now on whatever the grids choose, outside the capacity: the
  // first step that is not finite and the one before it (docs/run-format.md). The grids go on
  // as if nothing was pinned, so every other step is chosen as before, in both writers alike.
  void pin(int64_t step) { pinned_.insert(step); }
  bool keeps(int64_t step) const;

  // The steps that keep detail now, ascending.
  std::vector<int64_t> kept() const;
  int64_t capacity() const { return capacity_; }
  int64_t stride() const { return stride_; }  // of the reservoir's grid
  int64_t recent_spacing() const;             // of the recent steps' grid

 private:
  bool on_grid(int64_t step, int64_t stride) const { return (step - 1) % stride == 0; }
  bool in_recent(int64_t step) const;
  Decision admit_to_grids(int64_t step);

  int64_t capacity_, every_, recent_capacity_, reservoir_capacity_;
  int64_t stride_;
  std::set<int64_t> reservoir_;
  std::deque<int64_t> recent_;
  std::set<int64_t> pinned_;
};

}  // namespace replicascope::store
