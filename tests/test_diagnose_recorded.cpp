// SPDX-License-Identifier: MIT
// What version 6 records beside the statistics, end to end: the C++ writer keeps each layer's
// momentum and eps, eval-mode calls and events, and reads them back; Python trainings with a
// planted problem (python/tests/write_planted_run.py) are diagnosed from their runs; runs of
// version 5 still open, and say what they did not record.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "diagnose_steps.h"
#include "replicascope/engine/session.h"
#include "replicascope/model/frontend_model.h"
#include "replicascope/nn/sync_batchnorm.h"
#include "replicascope/store/run_reader.h"
#include "replicascope/store/run_writer.h"
#include "run_damage.h"
#include "test_util.h"

namespace replicascope::testing {
namespace {

namespace fs = std::filesystem;

// A step of layer "bn" (2 channels, synchronized and running) with `settings`.
StepRecord settings_step(int64_t step, std::optional<BatchNormSettings> settings) {
  StepRecord record;
  record.step = step;
  record.loss = 1;
  LayerStats layer;
  layer.layer = "bn";
  layer.count = 8;
  layer.copies = {{0, 8, {0.1, 0.2}, {1, 1}}};
  layer.mean = {0.1, 0.2};
  layer.var = {1, 1};
  layer.running_mean = {0.01, 0.02};
  layer.running_var = {1, 1};
  layer.settings = settings;
  record.layers.push_back(layer);
  return record;
}

TEST(RunFacts, TheWriterKeepsSettingsEvalCallsAndEventsAndTheReaderGivesThemBack) {
  const auto dir = temp_dir("replicascope_run_facts_");
  const auto path = (dir / "run.sqlite").string();
  {
    store::RunWriter writer(path, {});
    auto first = settings_step(1, BatchNormSettings{std::nullopt, 1e-3});
    first.eval_calls = {{"backbone.bn", 2}};
    writer.append(first);
    writer.append(settings_step(2, BatchNormSettings{0.5, 1}));  // a layer's first row decides
    store::RunEvent event;
    event.step = 3;
    event.kind = "sync-points-disagree";
    event.layer = "bn";
    event.sync_point = 1;
    event.series = SeriesKey::copy(2);
    event.message = "copy 2 called 'bn' once, the others twice";
    writer.add_event(event);
  }
  const store::RunReader run(path);
  ASSERT_TRUE(run.records_run_facts());
  const auto settings = run.layer_settings();
  ASSERT_EQ(settings.count("bn"), 1u);
  EXPECT_FALSE(settings.at("bn").momentum.has_value());  // NULL: a cumulative mean
  EXPECT_EQ(settings.at("bn").eps, 1e-3);
  const auto eval = run.eval_calls();
  ASSERT_EQ(eval.size(), 1u);
  ASSERT_EQ(eval.at(1).size(), 1u);
  EXPECT_EQ(eval.at(1)[0].module, "backbone.bn");
  EXPECT_EQ(eval.at(1)[0].calls, 2);
  const auto events = run.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].step, 3);
  EXPECT_EQ(events[0].kind, "sync-points-disagree");
  EXPECT_EQ(events[0].sync_point, 1);
  EXPECT_EQ(events[0].series, SeriesKey::copy(2));
  EXPECT_EQ(events[0].message, "copy 2 called 'bn' once, the others twice");
  fs::remove_all(dir);
}

TEST(RunFacts, AVersionFiveRunOpensWithoutThemAndSaysSo) {
  const auto dir = temp_dir("replicascope_run_facts_v5_");
  const auto path = (dir / "run.sqlite").string();
  {
    store::RunWriter writer(path, {});
    writer.append(settings_step(1, BatchNormSettings{}));
  }
  // A version-5 file as the writers made it: without version 6's tables.
  damage(path,
         "DROP TABLE layer_settings; DROP TABLE eval_calls; DROP TABLE events; "
         "DROP TABLE deviations; PRAGMA user_version=5");
  const store::RunReader run(path);
  EXPECT_FALSE(run.records_run_facts());
  EXPECT_TRUE(run.layer_settings().empty());
  const auto facts = diagnose::run_facts(run);
  EXPECT_EQ(facts.schema_version, 5);
  std::string unchecked;
  for (const auto& n : diagnose::not_checked(facts)) unchecked += n.kind + ";";
  EXPECT_EQ(unchecked,
            "running-stats-lag;frozen-batchnorm;sync-points-disagree;");  // one process
  EXPECT_NO_THROW(diagnose::diagnose_run(run));
  fs::remove_all(dir);
}

// Layers a, b, c, d of 2 copies, a called twice (its second call after b): the deviations of
// a's first call, b's and c's are kept every step, not a's second call nor d's.
TEST(RunFacts, EveryStepKeepsTheDeviationsOfTheFirstSyncPointOfItsFirstThreeLayers) {
  const auto dir = temp_dir("replicascope_deviations_");
  const auto path = (dir / "run.sqlite").string();
  StepRecord record = settings_step(1, BatchNormSettings{});
  const LayerStats base = record.layers[0];
  record.layers.clear();
  for (const char* name : {"a", "b", "a", "c", "d"}) {
    LayerStats layer = base;
    layer.layer = name;
    layer.sync_point = record.layers.size() == 2 ? 1 : 0;
    layer.copies = {{0, 4, {0.3, -0.1}, {1, 1}},
                    {1, 4, {-0.1, 0.5 * record.layers.size()}, {1, 1}}};
    record.layers.push_back(layer);
  }
  {
    store::RunWriter writer(path, {});
    writer.append(record);
  }
  {
    const store::RunReader run(path);
    ASSERT_TRUE(run.records_deviations());
    const auto kept = run.deviations_at(1);
    ASSERT_EQ(kept.size(), 3u);
    const std::vector<size_t> layers = {0, 1, 3};  // a (first call), b, c
    for (size_t i = 0; i < kept.size(); ++i) {
      const auto& expected = record.layers[layers[i]];
      EXPECT_EQ(kept[i].first, expected.layer);
      ASSERT_EQ(kept[i].second.size(), 2u);
      for (size_t k = 0; k < 2; ++k) {
        EXPECT_EQ(kept[i].second[k].key, SeriesKey::copy(static_cast<int>(k)));
        ASSERT_EQ(kept[i].second[k].u.size(), 2u);
        for (size_t c = 0; c < 2; ++c) {  // (copy mean - mean) / sqrt(var + 1e-5), in 1/64s
          const double u = (expected.copies[k].mean[c] - expected.mean[c]) / std::sqrt(1 + 1e-5);
          EXPECT_DOUBLE_EQ(kept[i].second[k].u[c],
                           std::clamp(std::round(u * 64), -127.0, 127.0) / 64);
        }
      }
    }
    EXPECT_TRUE(run.deviations_at(2).empty());
    EXPECT_EQ(run.deviations_at(1).size(), 3u);  // an earlier step again: a new pass
  }
  damage(path, "UPDATE deviations SET u = 'text' WHERE rowid = 1");
  EXPECT_THROW(store::RunReader(path).deviations_at(1), store::StoreError);
  // A version-6 run written before deviations came: none, and the diagnosis goes on without.
  damage(path, "DROP TABLE deviations");
  const store::RunReader older(path);
  EXPECT_FALSE(older.records_deviations());
  EXPECT_TRUE(older.deviations_at(1).empty());
  EXPECT_NO_THROW(diagnose::diagnose_run(older));
  fs::remove_all(dir);
}

// A deviation is kept in 1/64ths of a sigma, clamped to +-127/64; one that is not finite stays so.
TEST(RunFacts, ADeviationIsKeptInSixtyFourthsClampedAndNotFiniteAsItself) {
  const auto dir = temp_dir("replicascope_deviation_codes_");
  const auto path = (dir / "run.sqlite").string();
  StepRecord record = settings_step(1, BatchNormSettings{});
  record.layers[0].copies = {{0, 4, {0.1 + 0.1, 0.1 + 5.0}, {1, 1}}, {1, 4, {NAN, -5.0}, {1, 1}}};
  record.layers[0].mean = {0.1, 0.1};
  record.layers[0].var = {1 - 1e-5, 1 - 1e-5};  // u = copy mean - 0.1
  {
    store::RunWriter writer(path, {});
    writer.append(record);
  }
  const auto kept = store::RunReader(path).deviations_at(1);
  ASSERT_EQ(kept.size(), 1u);
  const auto& u = kept[0].second;
  ASSERT_EQ(u.size(), 2u);
  EXPECT_DOUBLE_EQ(u[0].u[0], 6.0 / 64);  // 0.1 is 6.4/64
  EXPECT_DOUBLE_EQ(u[0].u[1], 127.0 / 64);
  EXPECT_TRUE(std::isnan(u[1].u[0]));
  EXPECT_DOUBLE_EQ(u[1].u[1], -127.0 / 64);
  fs::remove_all(dir);
}

// A Python training of KIND (`script`: write_planted_run.py, one process; write_ddp_run.py, 2
// ranks of DDP over Gloo) over `steps`, diagnosed from its run.
std::vector<diagnose::Finding> planted_python_run(const std::string& kind, int steps,
                                                  const std::string& script = "write_planted_run") {
  const auto dir = temp_dir("replicascope_planted_" + kind + "_");
  const auto path = (dir / "run.sqlite").string();
  const std::string command = std::string(REPLICASCOPE_PYTHON) + " " + REPLICASCOPE_SOURCE_DIR +
                              "/python/tests/" + script + ".py " + kind + " " +
                              std::to_string(steps) + " " + path;
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  auto found = diagnose::diagnose_run(store::RunReader(path));
  fs::remove_all(dir);
  return found;
}

TEST(RunFacts, APythonTrainingWithACumulativeMeanOnDriftingInputLags) {
  const auto found = of_kind(planted_python_run("cumulative", 300), "running-stats-lag");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].layer, "1");  // the first BatchNorm, momentum=None
  EXPECT_EQ(found[0].severity, diagnose::Severity::kWarning);
  EXPECT_EQ(found[0].first_step, 251);
  EXPECT_EQ(found[0].last_step, 300);
}

TEST(RunFacts, TheSameDriftWithTheDefaultMomentumIsQuiet) {
  EXPECT_TRUE(of_kind(planted_python_run("healthy-drift", 300), "running-stats-lag").empty());
}

TEST(RunFacts, APythonTrainingWithAFrozenLayerSaysWhich) {
  const auto findings = planted_python_run("frozen", 20);
  const auto found = of_kind(findings, "frozen-batchnorm");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].layer, "4");
  EXPECT_EQ(found[0].severity, diagnose::Severity::kNote);
  EXPECT_EQ(found[0].first_step, 1);
  EXPECT_EQ(found[0].last_step, 20);
  for (const auto& f : findings) EXPECT_EQ(f.severity, diagnose::Severity::kNote) << f.evidence;
}

TEST(RunFacts, DdpRanksOfClassShardsWithTheirOwnBuffersDiffer) {
  const auto findings = planted_python_run("sharded-own-buffers", 300, "write_ddp_run");
  const auto found = of_kind(findings, "rank-buffers-differ");
  ASSERT_EQ(found.size(), 2u);  // the warning, then the note
  EXPECT_EQ(found[0].severity, diagnose::Severity::kWarning);
  EXPECT_EQ(found[0].series, std::vector<SeriesKey>{SeriesKey::rank(1)});
  EXPECT_EQ(found[0].last_step, 300);
  EXPECT_EQ(found[1].severity, diagnose::Severity::kNote);
  EXPECT_NE(found[1].evidence.find("not rank 0's broadcast ones"), std::string::npos);
}

TEST(RunFacts, DdpRanksOfShuffledDataAreQuietWithOrWithoutTheBroadcast) {
  // Their own buffers: a note (as intended or not), no warning: the difference is the noise of
  // the moving averages.
  const auto own = of_kind(planted_python_run("healthy-own-buffers", 300, "write_ddp_run"),
                           "rank-buffers-differ");
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(own[0].severity, diagnose::Severity::kNote);
  // Broadcast (DDP's default): the difference is one update's, exactly; nothing to say.
  EXPECT_TRUE(
      of_kind(planted_python_run("healthy", 300, "write_ddp_run"), "rank-buffers-differ").empty());
}

// A user's model with a branch on the data around its BatchNorm: a copy of more than 2 samples
// calls it twice, a smaller one once (what hangs a DDP training with SyncBatchNorm).
class BranchOnDataImpl : public torch::nn::Cloneable<BranchOnDataImpl> {
 public:
  BranchOnDataImpl() { reset(); }
  void reset() override {
    fc = register_module("fc", torch::nn::Linear(28 * 28, 8));
    bn = register_module("bn", nn::SynchronizedBatchNorm1d(8));
    head = register_module("head", torch::nn::Linear(8, 10));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = bn->forward(fc->forward(x.flatten(1)));
    if (x.size(0) > 2) y = bn->forward(y);
    return head->forward(y);
  }
  torch::nn::Linear fc{nullptr}, head{nullptr};
  nn::SynchronizedBatchNorm1d bn{nullptr};
};
TORCH_MODULE(BranchOnData);

TEST(RunFacts, CopiesThatCallALayerUnequallyFailTheStepAndLeaveAFinding) {
  auto o = options(2, true);
  o.batch_size = 6;  // 3 a copy: both call it twice, the step trains
  engine::Session session(
      [](bool) { return FrontendModel::wrap(BranchOnData().ptr(), "branch-on-data"); }, demo_data(),
      o);
  EXPECT_NO_THROW(session.step());
  EXPECT_TRUE(session.take_events().empty());
  engine::SessionOptions uneven = o;
  uneven.batch_size = 5;  // 3 and 2: copy 0 calls it twice, copy 1 once
  engine::Session failing(
      [](bool) { return FrontendModel::wrap(BranchOnData().ptr(), "branch-on-data"); }, demo_data(),
      uneven);
  EXPECT_ANY_THROW(failing.step());
  const auto events = failing.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "sync-points-disagree");
  EXPECT_EQ(events[0].step, 1);
  EXPECT_EQ(events[0].layer, "bn");
  EXPECT_NE(events[0].message.find("different number of times"), std::string::npos)
      << events[0].message;
  const auto found = of_kind(failing.diagnosis().findings(), "sync-points-disagree");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, diagnose::Severity::kError);
  EXPECT_EQ(found[0].layer, "bn");
  EXPECT_EQ(found[0].first_step, 1);

  // Kept in the run, the same finding reads back.
  const auto dir = temp_dir("replicascope_sync_event_");
  const auto path = (dir / "run.sqlite").string();
  {
    store::RunWriter writer(path, {});
    for (const auto& event : events) writer.add_event(event);
  }
  const auto read = of_kind(diagnose::diagnose_run(store::RunReader(path)), "sync-points-disagree");
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].evidence, found[0].evidence);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace replicascope::testing
