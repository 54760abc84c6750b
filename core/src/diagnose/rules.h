// SPDX-License-Identifier: MIT
// The rules of this version, one file each (internal: make_rules, rule.h, is their one face),
// and the few words they share.
#pragma once

#include <memory>
#include <string>

#include "replicascope/diagnose/rule.h"

namespace replicascope::diagnose::rules {

// The eps the rules standardize with: BatchNorm's default, as the recorded divergence.
constexpr double kEps = 1e-5;

std::unique_ptr<Rule> make_loss_explodes();
std::unique_ptr<Rule> make_nonfinite(const RunFacts& facts);
std::unique_ptr<Rule> make_uneven_copies(const RunFacts& facts);
std::unique_ptr<Rule> make_small_per_copy_batch(const RunFacts& facts);
std::unique_ptr<Rule> make_copies_see_different_data(const RunFacts& facts);
std::unique_ptr<Rule> make_running_stats_lag(const RunFacts& facts);
std::unique_ptr<Rule> make_frozen_batchnorm();
std::unique_ptr<Rule> make_sync_points_disagree();
std::unique_ptr<Rule> make_rank_buffers_differ(const RunFacts& facts);

// A figure for a person: 3 significant digits ("2.31", "45.2", "1.2e+31").
std::string figure(double value);
// The same with its sign ("+0.31", "-0.12").
std::string signed_figure(double value);
// "steps 1-5" or "step 7".
std::string step_range(int64_t first, int64_t last);

}  // namespace replicascope::diagnose::rules
