// SPDX-License-Identifier: MIT
// How the run store codes values in its columns (internal; docs/run-format.md is the contract):
// the copy column's numbers, per-channel vectors as BLOBs of float32 or float64, and a sync
// point's summaries as one BLOB.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "replicascope/store/run_rows.h"

namespace replicascope::store::detail {

// Copies and ranks a run may have; far more than any machine has.
constexpr int64_t kMostSeries = int64_t{1} << 20;
// Rank r's running statistics (r >= 1; version 6, the Python recorder) are kRankRunningBase - r,
// far below the ranks' codes.
constexpr int64_t kRankRunningBase = -(int64_t{1} << 24);

// Copies 0, 1, ...; the synchronized statistics -1; the running ones -2 (rank 0's); rank r's
// -3 - r; rank r's running ones kRankRunningBase - r.
int64_t stored_copy(const SeriesKey& key);
// Throws StoreError naming `path` for a number no writer makes.
SeriesKey key_of_stored(int64_t copy, const std::string& path);

// Version 4 keeps the synchronized statistics in float64 (what verify-like comparisons read) and
// every other vector in float32, which is more than a plot can show.
bool stored_single(const SeriesKey& key, int version);

// What a channel_stats row of `payload` bytes of BLOBs takes in the file, near enough: its
// header and cell, and beyond a page (4 kB) the overflow pages, of which the last is half empty
// on average (densenet121 at 4 copies: 2.84 MB estimated, 2.81 MB measured per step).
int64_t stored_row_bytes(int64_t payload);

// Little-endian float32s (or float64s) of `values`.
std::string real_blob(const std::vector<double>& values, bool single);

// A deviations row of one sync point: `copies`, the series' codes (int32 little-endian each,
// stored_copy), and `u`, their values series after series, one int8 per channel: u in steps of
// 1/64 (kDeviationStep), rounded half away from 0 and clamped to +-127/64, -128 where u is not
// finite. The test it feeds needs |mean u| >= 0.1, 6.4 steps; the rounding moves a value by 1/128
// at most, so it can tip only a mean already within 0.008 of that. Float32s, and a row per
// series, made the demo's runs 27% larger (this: 7%).
inline constexpr double kDeviationStep = 1.0 / 64;
struct DeviationRow {
  std::string copies, u;
};
// Empty when the series differ in channel count (no writer makes such a sync point).
DeviationRow deviation_row(const std::vector<SeriesDeviation>& series);
// A row no writer makes is a damaged row, named by `row` (sqlite_statement.h's row_in).
std::vector<SeriesDeviation> deviations_of_row(const std::string& copies, const std::string& u,
                                               const std::string& path, const std::string& row);

// One BLOB per sync point: per key, 16 bytes little-endian: int32 copy (stored_copy), int32
// count (-1 above 2^31 - 1), float32 mean over channels of the mean, float32 of the variance.
std::string summaries_blob(const std::vector<KeySummary>& summaries);
// A BLOB no writer makes is a damaged row, named by `row` (sqlite_statement.h's row_in).
std::vector<KeySummary> summaries_of_blob(const std::string& blob, const std::string& path,
                                          const std::string& row = "");

}  // namespace replicascope::store::detail
