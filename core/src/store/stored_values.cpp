// SPDX-License-Identifier: MIT
#include "stored_values.h"

#include "sqlite_statement.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace replicascope::store::detail {

int64_t stored_copy(const SeriesKey& key) {
  switch (key.kind) {
    case SeriesKey::Kind::kSynchronized:
      return -1;
    case SeriesKey::Kind::kRunning:
      return -2;
    case SeriesKey::Kind::kRank:
      return -3 - int64_t{key.index};
    case SeriesKey::Kind::kRankRunning:
      return kRankRunningBase - int64_t{key.index};
    default:
      return key.index;
  }
}

SeriesKey key_of_stored(int64_t copy, const std::string& path) {
  const bool series = copy >= -2 - kMostSeries && copy < kMostSeries;
  const bool rank_running = copy < kRankRunningBase && copy > kRankRunningBase - kMostSeries;
  if (!series && !rank_running) {
    throw StoreError(
        "run '" + path + "': copy id " + std::to_string(copy) + " is out of range (expected -" +
        std::to_string(2 + kMostSeries) + " to " + std::to_string(kMostSeries - 1) + ", or " +
        std::to_string(kRankRunningBase - kMostSeries + 1) + " to " +
        std::to_string(kRankRunningBase - 1) + " for other ranks' running statistics)");
  }
  if (copy >= 0) return SeriesKey::copy(static_cast<int>(copy));
  if (copy == -1) return SeriesKey::synchronized();
  if (copy == -2) return SeriesKey::running();
  if (rank_running) return SeriesKey::rank_running(static_cast<int>(kRankRunningBase - copy));
  return SeriesKey::rank(static_cast<int>(-3 - copy));
}

bool stored_single(const SeriesKey& key, int version) {
  return version >= 4 && key.kind != SeriesKey::Kind::kSynchronized;
}

namespace {

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

template <typename T>
T take(const char* data) {
  T value;
  std::memcpy(&value, data, sizeof(T));
  return value;
}

constexpr size_t kSummaryBytes = 16;

}  // namespace

int64_t stored_row_bytes(int64_t payload) {
  return 40 + payload + (payload > 4000 ? 2048 : 0);
}

std::string real_blob(const std::vector<double>& values, bool single) {
  std::string out;
  out.reserve(values.size() * (single ? 4 : 8));
  for (const double v : values) {
    if (single) {
      put(out, static_cast<float>(v));
    } else {
      put(out, v);
    }
  }
  return out;
}

std::string summaries_blob(const std::vector<KeySummary>& summaries) {
  std::string out;
  out.reserve(summaries.size() * kSummaryBytes);
  for (const auto& s : summaries) {
    put(out, static_cast<int32_t>(stored_copy(s.key)));
    put(out, static_cast<int32_t>(s.count > INT32_MAX ? -1 : s.count));
    put(out, static_cast<float>(s.mean));
    put(out, static_cast<float>(s.var));
  }
  return out;
}

DeviationRow deviation_row(const std::vector<SeriesDeviation>& series) {
  DeviationRow out;
  for (const auto& d : series) {
    if (d.u.size() != series[0].u.size()) return {};
    put(out.copies, static_cast<int32_t>(stored_copy(d.key)));
    for (const double v : d.u) {
      const double code =
          std::isfinite(v) ? std::clamp(std::round(v / kDeviationStep), -127.0, 127.0) : -128.0;
      out.u.push_back(static_cast<char>(static_cast<int8_t>(code)));
    }
  }
  return out;
}

std::vector<SeriesDeviation> deviations_of_row(const std::string& copies, const std::string& u,
                                               const std::string& path, const std::string& row) {
  const size_t series = copies.size() / 4;
  if (copies.size() % 4 != 0 || (series == 0 ? !u.empty() : u.size() % series != 0)) {
    damaged_row(path, row,
                "copies holds " + std::to_string(copies.size()) + " bytes and u " +
                    std::to_string(u.size()) +
                    ", expected int32 codes and as many int8 values for each of them");
  }
  std::vector<SeriesDeviation> out;
  const size_t channels = series ? u.size() / series : 0;
  for (size_t i = 0; i < series; ++i) {
    SeriesDeviation d{key_of_stored(take<int32_t>(copies.data() + 4 * i), path), {}};
    for (size_t c = 0; c < channels; ++c) {
      const auto code = static_cast<int8_t>(u[i * channels + c]);
      d.u.push_back(code == -128 ? NAN : code * kDeviationStep);
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<KeySummary> summaries_of_blob(const std::string& blob, const std::string& path,
                                          const std::string& row) {
  if (blob.size() % kSummaryBytes != 0) {
    damaged_row(path, row,
                "copies holds a BLOB of " + std::to_string(blob.size()) +
                    " bytes, expected a multiple of " + std::to_string(kSummaryBytes));
  }
  std::vector<KeySummary> out;
  for (size_t at = 0; at < blob.size(); at += kSummaryBytes) {
    const char* p = blob.data() + at;
    out.push_back({key_of_stored(take<int32_t>(p), path), take<int32_t>(p + 4), take<float>(p + 8),
                   take<float>(p + 12)});
  }
  return out;
}

}  // namespace replicascope::store::detail
