// SPDX-License-Identifier: MIT
// The findings layer (core/include/replicascope/diagnose): its statistics, its words, Diagnosis,
// and the rules that judge sizes: loss-explodes and uneven-copies.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "diagnose_steps.h"
#include "replicascope/diagnose/statistics.h"

namespace replicascope::testing {
namespace {

using diagnose::Diagnosis;
using diagnose::Severity;

// Known values (mpmath, 30 digits): t_{0.975,15} = 2.13144954556, t_{0.9999,15} = 4.87999828842,
// t_{0.975,1} = 12.7062047362, t_{0.995,30} = 2.74999565357, t_{1-1e-9,15} = 12.6927334072.
TEST(DiagnoseStatistics, StudentTQuantilesMatchKnownValues) {
  EXPECT_NEAR(diagnose::student_t_quantile(0.975, 15), 2.13144954556, 1e-9);
  EXPECT_NEAR(diagnose::student_t_quantile(0.9999, 15), 4.87999828842, 1e-9);
  EXPECT_NEAR(diagnose::student_t_quantile(0.975, 1), 12.7062047362, 1e-8);
  EXPECT_NEAR(diagnose::student_t_quantile(0.995, 30), 2.74999565357, 1e-9);
  EXPECT_NEAR(diagnose::student_t_quantile(1 - 1e-9, 15), 12.6927334072, 1e-7);
  EXPECT_NEAR(diagnose::student_t_quantile(0.025, 15), -2.13144954556, 1e-9);
  EXPECT_NEAR(diagnose::student_t_quantile(0.5, 15), 0, 1e-12);
}

TEST(DiagnoseStatistics, CdfAndIncompleteBetaMatchKnownValues) {
  EXPECT_NEAR(diagnose::student_t_cdf(2.0, 15), 0.968027496357640, 1e-12);
  EXPECT_NEAR(diagnose::student_t_cdf(-1.0, 3), 0.195501109477885, 1e-12);
  EXPECT_NEAR(diagnose::regularized_incomplete_beta(2, 5, 0.3), 0.579825, 1e-12);
  EXPECT_NEAR(diagnose::regularized_incomplete_beta(7.5, 0.5, 0.9), 0.216248365137266, 1e-12);
  EXPECT_EQ(diagnose::student_t_cdf(INFINITY, 15), 1);
  EXPECT_TRUE(std::isnan(diagnose::student_t_cdf(kNan, 15)));
  EXPECT_THROW(diagnose::student_t_quantile(1, 15), std::invalid_argument);
  EXPECT_THROW(diagnose::student_t_quantile(0.5, 0), std::invalid_argument);
}

TEST(DiagnoseFinding, SeveritiesParseAndALineReadsLikeACompilers) {
  EXPECT_EQ(diagnose::parse_severity("note"), Severity::kNote);
  EXPECT_EQ(diagnose::parse_severity("error"), Severity::kError);
  EXPECT_STREQ(diagnose::severity_name(Severity::kWarning), "warning");
  try {
    diagnose::parse_severity("loud");
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("got 'loud'"), std::string::npos) << e.what();
  }
  diagnose::Finding f;
  f.kind = "nonfinite";
  f.severity = Severity::kError;
  f.layer = "features.1";
  f.sync_point = 1;
  f.series = {SeriesKey::copy(1)};
  f.channels = {2, 5};
  f.first_step = f.last_step = 7;
  f.evidence = "E";
  EXPECT_EQ(diagnose::finding_line(f, "r.sqlite"),
            "r.sqlite: error [nonfinite] step 7, layer 'features.1' (call 2), copy 1, "
            "channels 2, 5: E");
}

TEST(DiagnoseDiagnosis, SortsErrorsFirstAndSaysEachFindingOnce) {
  Diagnosis diagnosis(facts(true));
  for (int64_t step = 1; step <= 12; ++step) {
    diagnosis.observe(planted_step(step, step < 10 ? 2.0 : 10.0, {healthy_layer("a")}));
  }
  auto found = diagnosis.new_findings();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].kind, "loss-explodes");
  diagnosis.observe(planted_step(13, kNan, {healthy_layer("a")}));
  found = diagnosis.new_findings();  // only the new one
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].kind, "nonfinite");
  EXPECT_TRUE(diagnosis.new_findings().empty());
  const auto all = diagnosis.findings();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].severity, Severity::kError);  // errors first, though it came later
  EXPECT_EQ(all[1].kind, "loss-explodes");
}

TEST(DiagnoseDiagnosis, NamesTheKindsItDoesNotCheck) {
  auto run = facts(true);
  std::string kinds;
  for (const auto& n : diagnose::not_checked(run)) {
    kinds += n.kind + " ";
    EXPECT_EQ(n.why, "not recorded in this run");
  }
  EXPECT_EQ(kinds, "");  // a live session of one process checks every kind
  // A run before version 6 lacks the layers' momentum, eval-mode calls, events and the other
  // ranks' running statistics, and says which version it is.
  run.records_run_facts = run.records_sync_events = run.records_rank_running = false;
  run.schema_version = 5;
  for (const auto& n : diagnose::not_checked(run)) kinds += n.kind + " (" + n.why + ") ";
  EXPECT_EQ(kinds,
            "rank-buffers-differ (not recorded in this run (schema version 5; the Python "
            "recorder records every rank's from version 6 on)) running-stats-lag (not recorded "
            "in this run (schema version 5; version 6 records momentum, eps and eval-mode "
            "calls)) frozen-batchnorm (not recorded in this run (schema version 5; version 6 "
            "records momentum, eps and eval-mode calls)) sync-points-disagree (not recorded in "
            "this run (schema version 5; the C++ engine records failed sync points from version "
            "6 on)) ");
  // The C++ engine of several processes sees rank 0's running statistics only.
  auto dist = facts(true, 2, 2);
  kinds.clear();
  for (const auto& n : diagnose::not_checked(dist)) kinds += n.kind + " (" + n.why + ") ";
  EXPECT_EQ(kinds, "");
  dist.records_rank_running = false;
  for (const auto& n : diagnose::not_checked(dist)) kinds += n.kind + " (" + n.why + ") ";
  EXPECT_EQ(kinds,
            "rank-buffers-differ (the C++ engine records rank 0's running statistics only) ");
}

std::vector<diagnose::Finding> losses(const std::vector<double>& values) {
  Diagnosis diagnosis(facts(true));
  for (size_t i = 0; i < values.size(); ++i) {
    diagnosis.observe(planted_step(static_cast<int64_t>(i) + 1, values[i]));
  }
  return of_kind(diagnosis.findings(), "loss-explodes");
}

// A learning rate far too large lifts the loss from the second step on (the demo at lr 3: 2.4,
// then 5.4): the start is the untrained model's first loss, not the median the jump lifted.
TEST(DiagnoseLossExplodes, AJumpInTheFirstStepsDoesNotLiftTheStart) {
  std::vector<double> values(20, 8.0);
  values[0] = 2.0;
  for (int i = 1; i < 5; ++i) values[i] = 5.0;
  for (int i = 5; i < 9; ++i) values[i] = 5.5;
  const auto found = losses(values);
  ASSERT_EQ(found.size(), 1u);
  // Steps 6-10 average 6.0, 3 x the first loss and above steps 1-5 (4.4); against their median
  // (5.0) the rule would wait for 15.
  EXPECT_EQ(found[0].first_step, 10);
}

TEST(DiagnoseLossExplodes, FiresWhenTheMeanOf5StepsReaches3xTheStartAndRises) {
  // 2.0 for steps 1-9, then 10: the mean of steps 8-12 is 6.8, past 3 x 2.0, at step 12.
  std::vector<double> values(20, 10.0);
  for (int i = 0; i < 9; ++i) values[i] = 2.0;
  const auto found = losses(values);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, Severity::kWarning);
  EXPECT_EQ(found[0].layer, "");
  EXPECT_EQ(found[0].first_step, 12);
  EXPECT_EQ(found[0].last_step, 20);
  EXPECT_NE(found[0].evidence.find("the loss rose from 2 (the first loss, or the median of "
                                   "steps 1-5 where lower) to 10 (mean of steps 10-14), 5x"),
            std::string::npos)
      << found[0].evidence;
}

TEST(DiagnoseLossExplodes, StaysQuietOnFallingNoisyAndModestlyRaisedLosses) {
  std::vector<double> falling, noisy, below;
  for (int i = 0; i < 300; ++i) {
    falling.push_back(2.3 * std::exp(-i / 50.0) + 0.05 * std::sin(i));
    noisy.push_back(2.3 + 1.5 * std::sin(i * 1.7));  // up to 3.8, never 3x the start
    below.push_back(i < 5 ? 2.0 : 5.9);              // 2.95x the start: below the rule's 3x
  }
  EXPECT_TRUE(losses(falling).empty());
  EXPECT_TRUE(losses(noisy).empty());
  EXPECT_TRUE(losses(below).empty());
  EXPECT_TRUE(losses(std::vector<double>(30, 0.0)).empty());  // no scale to grow by
}

std::vector<diagnose::Finding> counts(const std::vector<int64_t>& per_copy, int steps = 3) {
  Diagnosis diagnosis(facts(true, static_cast<int>(per_copy.size())));
  for (int step = 1; step <= steps; ++step) {
    std::vector<KeySummary> summaries;
    int64_t all = 0;
    for (size_t c = 0; c < per_copy.size(); ++c) {
      summaries.push_back(summary(SeriesKey::copy(static_cast<int>(c)), per_copy[c], 0, 1));
      all += per_copy[c];
    }
    summaries.push_back(summary(SeriesKey::synchronized(), all, 0, 1));
    diagnosis.observe(planted_step(step, 1.0, {planted_layer("features.1", summaries)}));
  }
  return of_kind(diagnosis.findings(), "uneven-copies");
}

TEST(DiagnoseUnevenCopies, ZeroIsAnErrorTwiceAWarningAnyOtherDifferenceANote) {
  const auto note = counts({3, 2, 2, 2}, 60);  // a batch of 9 on 4 copies
  ASSERT_EQ(note.size(), 1u);
  EXPECT_EQ(note[0].severity, Severity::kNote);
  EXPECT_EQ(note[0].series,
            (std::vector<SeriesKey>{SeriesKey::copy(1), SeriesKey::copy(2), SeriesKey::copy(3)}));
  EXPECT_EQ(note[0].first_step, 1);
  EXPECT_EQ(note[0].last_step, 60);
  EXPECT_NE(note[0].evidence.find("copy 0 3, copy 1 2"), std::string::npos) << note[0].evidence;
  EXPECT_NE(note[0].evidence.find("60 steps like it"), std::string::npos) << note[0].evidence;
  const auto warning = counts({2, 1, 1, 1});
  ASSERT_EQ(warning.size(), 1u);
  EXPECT_EQ(warning[0].severity, Severity::kWarning);
  const auto error = counts({4, 0});
  ASSERT_EQ(error.size(), 1u);
  EXPECT_EQ(error[0].severity, Severity::kError);
  EXPECT_EQ(error[0].series, std::vector<SeriesKey>{SeriesKey::copy(1)});
  EXPECT_TRUE(counts({4, 4, 4, 4}, 60).empty());
}

}  // namespace
}  // namespace replicascope::testing
