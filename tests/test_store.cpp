// The run database: recording, tidy CSV export read back, files that are not runs, and a run
// killed with SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "replicascope/engine/model_source.h"
#include "replicascope/engine/session.h"
#include "replicascope/store/export.h"
#include "replicascope/store/run_store.h"
#include "replicascope/store/series.h"
#include "test_util.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace replicascope;
using replicascope::testing::demo_data;
using replicascope::testing::options;
using replicascope::testing::temp_dir;

TEST(RunStore, RecordsAndExportsTidyCsvThatReadsBack) {
  const auto dir = temp_dir("replicascope_store_");
  const auto path = (dir / "run.sqlite").string();
  engine::Session session(engine::demo_model(), demo_data(), options(2, true));
  {
    store::RunWriter writer(path, {{"model", "demo"}, {"seed", "7"}});
    for (int i = 0; i < 3; ++i) writer.append(session.step());
    EXPECT_THROW(store::RunWriter(path, {}), store::StoreError);  // never overwritten
  }
  const store::RunReader run(path);
  EXPECT_EQ(run.metadata().at("seed"), "7");
  ASSERT_EQ(run.steps().size(), 3u);
  EXPECT_EQ(run.layers(), (std::vector<std::string>{"features.1", "features.5", "head.2"}));
  EXPECT_EQ(run.divergence("head.2").size(), 3u);

  store::StatFilter filter;
  filter.layer = "features.5";
  filter.last_channel = 3;
  store::write_csv(run, filter, (dir / "stats.csv").string());
  std::vector<store::StatRow> rows;
  run.for_each_stat(filter, [&](const store::StatRow& r) { rows.push_back(r); });
  // 3 steps x (2 copies + synchronized + running) x 4 channels x (mean, var)
  ASSERT_EQ(rows.size(), 3u * 4 * 4 * 2);
  std::ifstream in(dir / "stats.csv");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "step,layer,sync_point,copy,channel,statistic,value");
  for (const auto& row : rows) {
    ASSERT_TRUE(std::getline(in, line));
    std::stringstream fields(line);
    std::string step, layer, sync_point, copy, channel, statistic, value;
    for (auto* f : {&step, &layer, &sync_point, &copy, &channel, &statistic})
      std::getline(fields, *f, ',');
    std::getline(fields, value);
    EXPECT_EQ(std::stoll(step), row.step);
    EXPECT_EQ(layer, row.layer);
    EXPECT_EQ(copy, row.key.label());
    EXPECT_EQ(std::stoll(channel), row.channel);
    EXPECT_EQ(statistic, statistic_name(row.statistic));
    EXPECT_EQ(std::stod(value), row.value);  // 17 digits: exact
  }
  EXPECT_FALSE(std::getline(in, line));
  // The synchronized row equals what the session reported.
  EXPECT_THROW(store::write_csv(run, filter, "/nonexistent-dir/x.csv"), std::runtime_error);
  fs::remove_all(dir);
}

// A run written by the version-1 writer (tests/data/write_run_v1.cpp): it still opens, its
// statistics read back as written, and its module tree is rebuilt from the wiring text it kept.
TEST(RunStore, OpensAVersionOneRun) {
  const store::RunReader run(std::string(REPLICASCOPE_SOURCE_DIR) + "/tests/data/run_v1.sqlite");
  EXPECT_EQ(run.schema_version(), 1);
  ASSERT_EQ(run.steps().size(), 3u);
  EXPECT_DOUBLE_EQ(run.steps()[1].loss, 1.0);
  EXPECT_EQ(run.layers(), (std::vector<std::string>{"features.bn", "head.bn"}));
  const auto model = run.model();
  EXPECT_EQ(model.wiring.devices.size(), 2u);
  ASSERT_EQ(model.wiring.rows.size(), 4u);
  EXPECT_EQ(model.wiring.rows[2].copies[1].order, 1);
  ASSERT_EQ(model.modules.size(), 4u);
  EXPECT_EQ(model.modules[2].name, "features.bn");
  EXPECT_EQ(model.modules[2].depth, 2);
  EXPECT_TRUE(model.modules[2].synchronized);
  EXPECT_FALSE(model.modules[1].synchronized);
  // Channel c of copy k at step s was written as mean s + 10k + c/10, var 1 + s + c.
  const auto series = store::statistic_series(run, {"head.bn", Statistic::kMean, 1, 2});
  ASSERT_EQ(series.size(), 2u * 4);  // copies 0 and 1, synchronized, running; channels 1 and 2
  EXPECT_EQ(series[0].key, SeriesKey::copy(0));
  EXPECT_EQ(series[2].key, SeriesKey::copy(1));
  EXPECT_EQ(series[2].channel, 1);
  EXPECT_EQ(series[2].steps, (std::vector<double>{1, 2, 3}));
  EXPECT_DOUBLE_EQ(series[2].values[1], 2 + 10 + 0.1);
  EXPECT_EQ(series[4].key, SeriesKey::synchronized());
  EXPECT_EQ(series[6].key, SeriesKey::running());
}

TEST(RunStore, RefusesFilesThatAreNotRuns) {
  const auto dir = temp_dir("replicascope_notrun_");
  std::ofstream(dir / "text.sqlite") << "not a database";
  EXPECT_THROW(store::RunReader((dir / "text.sqlite").string()), store::StoreError);
  EXPECT_THROW(store::RunReader((dir / "missing.sqlite").string()), store::StoreError);
  replicascope::testing::expect_throw_containing<store::StoreError>(
      [&] { store::RunWriter((dir / "no" / "run.sqlite").string(), {}); }, "cannot create it");
  fs::remove_all(dir);
}

// A run killed with SIGKILL mid-training keeps every finished step and passes integrity_check.
TEST(RunStore, KilledRunKeepsItsFinishedSteps) {
  const auto dir = temp_dir("replicascope_kill_");
  const auto path = (dir / "killed.sqlite").string();
  std::vector<std::string> argv_strings = {REPLICASCOPE_CLI, "train",   "--data",    "synthetic",
                                           "--steps",        "1000000", "--devices", "cpu:2",
                                           "--batch",        "8",       "--run",     path};
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t child = 0;
  ASSERT_EQ(posix_spawn(&child, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  size_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (seen < 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    try {
      seen = store::RunReader(path).steps().size();
    } catch (const store::StoreError&) {
      // not created yet
    }
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_GE(seen, 5u) << "the child recorded too few steps before the deadline";

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);  // read-write: recovers the WAL
  sqlite3_stmt* check = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &check, nullptr);
  ASSERT_EQ(sqlite3_step(check), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(check, 0)), "ok");
  sqlite3_finalize(check);
  sqlite3_close(db);

  const store::RunReader run(path);
  const auto steps = run.steps();
  EXPECT_GE(steps.size(), seen);
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i].step, static_cast<int64_t>(i + 1));
  // Every kept step is whole: its statistics are there for every layer.
  size_t rows_of_last = 0;
  store::StatFilter filter;
  run.for_each_stat(filter,
                    [&](const store::StatRow& r) { rows_of_last += r.step == steps.back().step; });
  EXPECT_EQ(rows_of_last, (8 + 16 + 64) * 4u * 2u);  // channels x (2 copies, sync, running) x 2
  fs::remove_all(dir);
}

}  // namespace
