// SPDX-License-Identifier: MIT
// Faults injected on purpose, for the tests that must see a check fail (verify catching a broken
// synchronization). Nothing sets them otherwise; unset, they cost one relaxed atomic load per
// sync point.
#pragma once

namespace replicascope::nn::testing {

// While on, every reduction over several copies leaves the last copy's statistics out of the
// merge: the other copies' statistics are used for all, a broken synchronization.
void drop_last_copy_statistics(bool on);
bool drops_last_copy_statistics();

}  // namespace replicascope::nn::testing
