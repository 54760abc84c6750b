// SPDX-License-Identifier: MIT
// The run database: recording, tidy CSV export read back, files that are not runs, and a run
// killed with SIGKILL.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "replicascope/base/atomic_write.h"
#include "replicascope/base/utf8.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/engine/session.h"
#include "replicascope/store/export.h"
#include "replicascope/store/run_reader.h"
#include "replicascope/store/run_writer.h"
#include "replicascope/store/series.h"
#include "run_damage.h"
#include "test_util.h"

extern char** environ;

namespace {

// Called (once) just before the run store's next sqlite3_open_v2: a test's way to make another
// process win a race at a chosen moment.
std::function<void()> g_before_open;

}  // namespace

// Interposes SQLite's open for the tests in this binary; without a hook it is the real one.
extern "C" int sqlite3_open_v2(const char* filename, sqlite3** db, int flags, const char* vfs) {
  using Open = int (*)(const char*, sqlite3**, int, const char*);
  static const auto real = reinterpret_cast<Open>(::dlsym(RTLD_NEXT, "sqlite3_open_v2"));
  if (g_before_open) {
    const auto hook = std::move(g_before_open);
    g_before_open = nullptr;
    hook();
  }
  return real(filename, db, flags, vfs);
}

namespace {

namespace fs = std::filesystem;
using namespace replicascope;
using replicascope::testing::damage;
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
  EXPECT_EQ(run.divergence_by_layer().at("head.2").size(), 3u);

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

// A step made by hand: one layer "bn" with `copies` copies of 2 channels.
replicascope::StepRecord step_record(int64_t step, double loss, const std::string& layer = "bn") {
  replicascope::StepRecord r;
  r.step = step;
  r.epoch = 0;
  r.loss = loss;
  r.accuracy = 0.5;
  r.seconds = 0.01;
  replicascope::LayerStats stats;
  stats.layer = layer;
  stats.count = 8;
  stats.mean = {0.5, -0.5};
  stats.var = {1.0, 2.0};
  stats.copies = {{0, 4, {0.25, -0.25}, {1.0, 2.0}}, {1, 4, {0.75, -0.75}, {1.0, 2.0}}};
  stats.divergence = 0.25;
  r.layers.push_back(stats);
  return r;
}

std::vector<std::string> leftovers(const fs::path& dir, const std::string& keep) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename() != keep) out.push_back(entry.path().filename().string());
  }
  return out;
}

// The probe's race: another process creates the run between the existence check and the open.
// The loser must fail saying so and leave the winner's file as it was.
TEST(RunStore, AWriterThatLosesTheCreationRaceLeavesTheWinnersRun) {
  const auto dir = temp_dir("replicascope_race_");
  const auto path = (dir / "run.sqlite").string();
  g_before_open = [&] { std::ofstream(path) << "the winner's finished run"; };
  replicascope::testing::expect_throw_containing<store::StoreError>(
      [&] {
        store::RunWriter(path, {{"model", "demo"}});
      },
      "the file exists");
  g_before_open = nullptr;
  std::stringstream kept;
  kept << std::ifstream(path).rdbuf();
  EXPECT_EQ(kept.str(), "the winner's finished run");
  EXPECT_EQ(leftovers(dir, "run.sqlite"), std::vector<std::string>{});  // no stub, no temporary
  fs::remove_all(dir);
}

// A diverging training is recorded: NaN and infinity are kept (NaN is NULL in SQLite), the step
// is marked with what was not finite, and the next steps go on.
TEST(RunStore, RecordsNonFiniteStepsAndMarksThem) {
  const auto dir = temp_dir("replicascope_nonfinite_");
  const auto path = (dir / "run.sqlite").string();
  {
    store::RunWriter writer(path, {});
    writer.append(step_record(1, 2.5));
    auto bad = step_record(2, std::nan(""));
    bad.layers[0].copies[1].mean[0] = INFINITY;
    bad.layers[0].divergence = INFINITY;
    writer.append(bad);
    auto worse = step_record(3, INFINITY);
    worse.accuracy = std::nan("");
    writer.append(worse);
  }
  const store::RunReader run(path);
  const auto steps = run.steps();
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].nonfinite, "");
  EXPECT_TRUE(std::isnan(steps[1].loss));
  EXPECT_EQ(steps[1].nonfinite, "loss, layer 'bn' statistics");
  EXPECT_EQ(steps[2].loss, INFINITY);
  EXPECT_TRUE(std::isnan(steps[2].accuracy));
  EXPECT_EQ(steps[2].nonfinite, "loss, accuracy");
  const auto divergence = run.divergence_by_layer().at("bn");
  ASSERT_EQ(divergence.size(), 3u);
  EXPECT_EQ(divergence[1].value, INFINITY);
  const auto series = store::statistic_series(run, {"bn", Statistic::kMean, 0, 0});
  ASSERT_EQ(series[1].key, SeriesKey::copy(1));
  EXPECT_EQ(series[1].values[1], INFINITY);
  fs::remove_all(dir);
}

// A version-2 run (no steps.nonfinite column) still opens; its steps are unmarked.
TEST(RunStore, OpensAVersionTwoRun) {
  const auto dir = temp_dir("replicascope_v2_");
  const auto path = (dir / "run.sqlite").string();
  {
    store::RunWriter writer(path, {});
    writer.append(step_record(1, 0.5));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE steps DROP COLUMN nonfinite; PRAGMA user_version=2",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  const store::RunReader run(path);
  EXPECT_EQ(run.schema_version(), 2);
  ASSERT_EQ(run.steps().size(), 1u);
  EXPECT_EQ(run.steps()[0].loss, 0.5);
  EXPECT_EQ(run.steps()[0].nonfinite, "");
  fs::remove_all(dir);
}

// A run says it is one in SQLite's header (application_id, big-endian at offset 68: "RSRN"),
// which the MIME type's magic reads; a run without it (every run before it) still opens.
TEST(RunStore, ARunCarriesItsApplicationIdAndRunsWithoutItOpen) {
  const auto dir = temp_dir("replicascope_app_id_");
  const auto path = (dir / "run.sqlite").string();
  {
    store::RunWriter writer(path, {});
    writer.append(step_record(1, 0.5));
  }
  std::ifstream file(path, std::ios::binary);
  std::string header(72, '\0');
  ASSERT_TRUE(file.read(header.data(), 72));
  EXPECT_EQ(header.substr(0, 16), std::string("SQLite format 3\0", 16));
  EXPECT_EQ(header.substr(68, 4), "RSRN");
  EXPECT_EQ(store::kRunApplicationId, 0x5253524E);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA application_id=0", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(store::RunReader(path).steps().size(), 1u);
  fs::remove_all(dir);
}

// Runs `body` in a child process that has a tmpfs of its own at `dir` (a private mount
// namespace), mounted with `options`; returns the child's exit status, or -1 where this machine
// does not allow it (not root, no namespaces).
int in_private_tmpfs(const fs::path& dir, const char* options,
                     const std::function<int(const fs::path&)>& body) {
  const pid_t child = ::fork();
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr))
      ::_exit(77);
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options) != 0) ::_exit(77);
    int status = 1;
    try {
      status = body(dir);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    ::_exit(status);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) == 77) return -1;
  return WEXITSTATUS(status);
}

// A finished run on read-only media (a mounted archive) reads; before, SQLite could not make
// its -shm file there and every reader said "unable to open database file".
TEST(RunStore, ReadsAFinishedRunOnReadOnlyMedia) {
  const auto dir = temp_dir("replicascope_ro_");
  fs::create_directories(dir / "media");
  const int status = in_private_tmpfs(dir / "media", "size=4m", [](const fs::path& media) {
    const auto path = (media / "run.sqlite").string();
    {
      store::RunWriter writer(path, {{"model", "demo"}});
      for (int i = 1; i <= 3; ++i) writer.append(step_record(i, 1.0 / i));
    }
    if (::mount("tmpfs", media.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr) != 0) return 77;
    const store::RunReader run(path);
    if (run.steps().size() != 3 || run.metadata().at("model") != "demo") return 2;
    return fs::exists(path + "-shm") ? 3 : 0;
  });
  if (status < 0) GTEST_SKIP() << "needs root and mount namespaces for a read-only tmpfs";
  EXPECT_EQ(status, 0) << "1: an error (printed above), 2: wrong contents, 3: wrote a -shm";
  fs::remove_all(dir);
}

// On a full disk the error is SQLite's own (SQLITE_FULL), not "cannot rollback - no transaction
// is active" from the rollback after it; the steps before stay readable.
TEST(RunStore, AFullDiskReportsSQLitesOwnErrorAndTheNextStepsGoOn) {
  const auto dir = temp_dir("replicascope_full_");
  fs::create_directories(dir / "small");
  const int status = in_private_tmpfs(dir / "small", "size=384k", [](const fs::path& small) {
    const auto path = (small / "run.sqlite").string();
    const auto filler = small / "filler";
    std::ofstream(filler) << std::string(64 * 1024, 'x');
    store::RunWriter writer(path, {});
    for (int i = 1; i < 100000; ++i) {
      auto record = step_record(i, 1.0);
      record.layers[0].mean.assign(512, 0.5);  // 4 KB a step
      try {
        writer.append(record);
      } catch (const store::StoreError& e) {
        const std::string what = e.what();
        std::fprintf(stderr, "step %d: %s\n", i, e.what());
        if (what.find("database or disk is full") == std::string::npos ||
            what.find("cannot rollback") != std::string::npos)
          return 2;
        // Space again: the step that failed goes in, with the layer earlier steps named.
        fs::remove(filler);
        try {
          writer.append(record);
        } catch (const store::StoreError& again) {
          std::fprintf(stderr, "step %d again: %s\n", i, again.what());
          return 4;
        }
        return store::RunReader(path).steps().back().step == i ? 0 : 5;
      }
    }
    return 3;
  });
  if (status < 0) GTEST_SKIP() << "needs root and mount namespaces for a small tmpfs";
  EXPECT_EQ(status, 0) << "2: the wrong error (printed above), 3: the disk never filled, 4: the "
                          "step failed again with space freed, 5: it is not in the file";
  fs::remove_all(dir);
}

TEST(RunExport, CsvQuotesFieldsThatNeedItAndStreamsToStdout) {
  EXPECT_EQ(store::csv_field("features.1"), "features.1");
  EXPECT_EQ(store::csv_field("bn,1"), "\"bn,1\"");
  EXPECT_EQ(store::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  const auto dir = temp_dir("replicascope_csvq_");
  const auto path = (dir / "run.sqlite").string();
  {
    store::RunWriter writer(path, {});
    writer.append(step_record(1, 1.0, "blocks[\"bn,1\"]"));
  }
  const store::RunReader run(path);
  std::stringstream csv;
  store::write_csv(run, {}, csv);
  std::string header, line;
  std::getline(csv, header);
  std::getline(csv, line);
  EXPECT_EQ(line, "1,\"blocks[\"\"bn,1\"\"]\",0,copy 0,0,mean,0.25");
  fs::remove_all(dir);
}

TEST(RunExport, RefusesOutputsThatWouldLoseData) {
  using replicascope::testing::expect_throw_containing;
  const auto dir = temp_dir("replicascope_outputs_");
  const auto run = (dir / "run.sqlite").string();
  std::ofstream(run) << "a run";
  fs::create_hard_link(run, dir / "alias.sqlite");
  const auto check = [&](std::vector<std::pair<std::string, std::string>> outputs) {
    store::check_outputs(run, outputs);
  };
  expect_throw_containing<std::invalid_argument>(
      [&] {
        check({{"--csv", run}});
      },
      "--csv '" + run + "' is the run being exported");
  expect_throw_containing<std::invalid_argument>(
      [&] {
        check({{"--json", (dir / "alias.sqlite").string()}});
      },
      "is the run being exported");
  expect_throw_containing<std::invalid_argument>(
      [&] {
        check({{"--csv", run + "-wal"}});
      },
      "(its -wal file)");
  expect_throw_containing<std::invalid_argument>(
      [&] {
        check({{"--csv", "o.csv"}, {"--json", "o.csv"}});
      },
      "--csv and --json both name 'o.csv'");
  expect_throw_containing<std::invalid_argument>(
      [&] {
        check({{"--csv", "-"}, {"--json", "-"}});
      },
      "--csv and --json both name '-'");
  expect_throw_containing<std::invalid_argument>(
      [&] {
        check({{"--csv", ""}});
      },
      "--csv expects a file name");
  check({{"--csv", "-"}, {"--json", (dir / "o.json").string()}});
  // Renaming over a FIFO, a folder or a device node would replace it.
  const auto fifo = (dir / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const store::StatFilter filter;
  expect_throw_containing<std::runtime_error>(
      [&] { replicascope::write_text_atomically(fifo, [](std::ostream&) {}); },
      "cannot write '" + fifo + "': it is a FIFO (named pipe); expected a regular file");
  expect_throw_containing<std::runtime_error>(
      [&] { replicascope::write_text_atomically(dir.string(), [](std::ostream&) {}); },
      "it is a folder");
  expect_throw_containing<std::runtime_error>(
      [&] { replicascope::write_text_atomically("/dev/null", [](std::ostream&) {}); },
      "it is a character device");
  expect_throw_containing<std::runtime_error>(
      [&] { replicascope::write_text_atomically("", [](std::ostream&) {}); },
      "cannot write '': expected a file name");
  EXPECT_TRUE(fs::is_fifo(fifo));
  fs::remove_all(dir);
}

// A run killed with SIGKILL mid-training keeps every finished step and passes integrity_check;
// with per-channel detail for a sample of its steps (evictions in the same transactions), every
// finished step keeps its summaries and the sample stays within its bound.
TEST(RunStore, KilledRunKeepsItsFinishedSteps) {
  SKIP_IN_SANITIZED_BUILD("replicascope-cli");
  const auto dir = temp_dir("replicascope_kill_");
  const auto path = (dir / "killed.sqlite").string();
  std::vector<std::string> argv_strings = {
      REPLICASCOPE_CLI, "train",   "--data", "synthetic", "--steps", "1000000",        "--devices",
      "cpu:2",          "--batch", "8",      "--run",     path,      "--detail-steps", "4"};
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
  // Every kept step is whole: the last one with detail has its channels for every layer.
  const auto detail = run.detail_steps();
  ASSERT_FALSE(detail.empty());
  size_t rows_of_last = 0;
  store::StatFilter filter;
  run.for_each_stat(filter,
                    [&](const store::StatRow& r) { rows_of_last += r.step == detail.back(); });
  EXPECT_EQ(rows_of_last, (8 + 16 + 64) * 4u * 2u);  // channels x (2 copies, sync, running) x 2
  store::DetailPolicy policy(4, 1);  // the steps it keeps: the same as the writer's at the kill
  for (const auto& step : steps) policy.admit(step.step);
  EXPECT_EQ(detail, policy.kept());
  EXPECT_LE(detail.size(), 4u);
  std::set<int64_t> stats_steps;
  run.for_each_stat(filter, [&](const store::StatRow& r) { stats_steps.insert(r.step); });
  EXPECT_EQ(std::vector<int64_t>(stats_steps.begin(), stats_steps.end()), detail);
  for (const auto& layer : run.layers()) {
    std::map<int64_t, int> summaries;
    run.for_each_summary(layer, [&](const store::SummaryRow& r) { ++summaries[r.step]; });
    ASSERT_EQ(summaries.size(), steps.size()) << layer;
    for (const auto& [step, keys] : summaries) EXPECT_EQ(keys, 4) << layer << " step " << step;
  }
  fs::remove_all(dir);
}

}  // namespace

// A run of `steps` hand-made steps (layer "bn": 2 channels, 2 copies), every step with detail.
std::string small_run(const fs::path& dir, const std::string& name, int steps = 3) {
  const auto path = (dir / name).string();
  store::RunWriter writer(path, {{"model", "m.pt"}});
  for (int i = 1; i <= steps; ++i) writer.append(step_record(i, 0.5));
  return path;
}

// Every channel value of a run, read as export reads it.
size_t channel_values(const std::string& path) {
  size_t n = 0;
  store::RunReader(path).for_each_stat({}, [&](const store::StatRow&) { ++n; });
  return n;
}

TEST(Utf8, EscapesEveryByteThatIsNotUtf8AsPythonsBackslashreplace) {
  // Derived from RFC 3629 and Python's bytes.decode('utf-8', 'backslashreplace').
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"layer1.0.bn1", "layer1.0.bn1"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
      {"/tmp/d\xff/m.pt", "/tmp/d\\xff/m.pt"},
      {"\xc0\xaf", "\\xc0\\xaf"},                    // an overlong '/'
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},           // a UTF-16 surrogate
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},  // past U+10FFFF
      {"\xe2\x82"
       "A",
       "\\xe2\\x82A"},  // cut short
      {std::string("a\0b", 3), std::string("a\0b", 3)},
  };
  for (const auto& [given, expected] : cases) EXPECT_EQ(valid_utf8(given), expected) << given;
}

TEST(RunStore, KeepsTextThatIsNotUtf8EscapedAndReadsOldRunsThatHoldIt) {
  const auto dir = temp_dir("replicascope_utf8_");
  const auto path = (dir / "run.sqlite").string();
  {
    store::RunWriter writer(path, {{"model", "/tmp/d\xff/m.pt"}});
    writer.append(step_record(1, 0.5, "bn\xfe"));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'model'", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))),
            "/tmp/d\\xff/m.pt");  // what the file holds, not only what the reader gives
  sqlite3_finalize(stmt);
  // A file another writer filled with other bytes still reads, escaped the same way.
  sqlite3_exec(db, "UPDATE layers SET name = CAST(X'626eff' AS TEXT)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  const store::RunReader run(path);
  EXPECT_EQ(run.metadata().at("model"), "/tmp/d\\xff/m.pt");
  EXPECT_EQ(run.layers(), std::vector<std::string>{"bn\\xff"});
  fs::remove_all(dir);
}

TEST(RunStore, ADamagedValueIsAnErrorNamingTheRunTheTableTheStepAndTheLayer) {
  const auto dir = temp_dir("replicascope_damaged_");
  const auto whole = small_run(dir, "whole.sqlite");
  // steps x series (2 copies, synchronized) x channels x statistics
  ASSERT_EQ(channel_values(whole), 3u * 3 * 2 * 2);
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"UPDATE steps SET loss = 'abc' WHERE step = 2",
       "table steps (step 2): loss holds text, expected a number or NULL"},
      {"UPDATE steps SET epoch = 1.5 WHERE step = 3",
       "table steps (step 3): epoch holds a real number, expected an integer"},
      {"UPDATE channel_stats SET mean = zeroblob(3) WHERE step = 2 AND copy = 0",
       "table channel_stats (step 2, layer 'bn'): mean holds a BLOB of 3 bytes, expected a BLOB "
       "of float32 values"},
      {"UPDATE channel_stats SET var = zeroblob(4) WHERE step = 1 AND copy = 1",
       "table channel_stats (step 1, layer 'bn'): var holds a BLOB of 4 bytes, expected 2 values, "
       "as the mean has"},
      {"UPDATE channel_stats SET mean = zeroblob(4), var = zeroblob(4) WHERE step = 3 AND copy = 1",
       "table channel_stats (step 3, layer 'bn'): mean holds a BLOB of 4 bytes, expected 2 "
       "values, as the sync point's other series have"},
  };
  int n = 0;
  for (const auto& [sql, message] : cases) {
    const auto path = (dir / ("damaged" + std::to_string(n++) + ".sqlite")).string();
    fs::copy_file(whole, path);
    damage(path, sql);
    replicascope::testing::expect_throw_containing<store::StoreError>(
        [&] {
          const store::RunReader run(path);
          run.steps();
          channel_values(path);
        },
        "run '" + path + "': damaged row in " + message);
  }
  fs::remove_all(dir);
}

TEST(RunStore, ARunWithoutItsTablesIsRefusedNamingEveryMissingTable) {
  const auto dir = temp_dir("replicascope_tables_");
  const auto path = small_run(dir, "run.sqlite", 1);
  damage(path, "DROP TABLE channel_stats; DROP TABLE wiring_cells");
  replicascope::testing::expect_throw_containing<store::StoreError>(
      [&] { store::RunReader{path}; },
      "run '" + path +
          "': damaged or not a ReplicaScope run: schema version 6 has the table(s) "
          "channel_stats, wiring_cells, which this file lacks");
  fs::remove_all(dir);
}

TEST(RunStore, AWriterWaitsForAnotherConnectionsShortLock) {
  const auto dir = temp_dir("replicascope_lock_");
  const auto path = (dir / "run.sqlite").string();
  store::RunWriter writer(path, {});
  writer.append(step_record(1, 0.5));
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::thread release([other] {  // a lock held for a moment, as a copy tool or checkpoint does
    std::this_thread::sleep_for(std::chrono::seconds(2));
    sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  });
  EXPECT_NO_THROW(writer.append(step_record(2, 0.5)));  // before: "database is locked" at once
  release.join();
  sqlite3_close(other);
  EXPECT_EQ(store::RunReader(path).steps().size(), 2u);
  fs::remove_all(dir);
}

// A layer called twice in a step has two sync points: read per call, each keeps its own
// divergence; read per layer, the step shows the larger (what the CLI exports).
TEST(RunStore, ReadsEachCallsDivergenceOfALayerCalledTwice) {
  const auto dir = temp_dir("replicascope_calls_");
  const auto path = (dir / "run.sqlite").string();
  {
    store::RunWriter writer(path, {});
    for (int64_t step = 1; step <= 2; ++step) {
      auto record = step_record(step, 0.5);
      record.layers.push_back(record.layers[0]);
      record.layers[1].sync_point = 1;
      record.layers[0].divergence = 0.1 * static_cast<double>(step);
      record.layers[1].divergence = 2.0 * static_cast<double>(step);
      writer.append(record);
    }
  }
  const store::RunReader run(path);
  const auto calls = run.divergence_by_layer(/*each_call=*/true).at("bn");
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].sync_point, 0);
  EXPECT_EQ(calls[1].sync_point, 1);
  EXPECT_EQ(calls[1].step, 1);
  EXPECT_DOUBLE_EQ(calls[0].value, 0.1);
  EXPECT_DOUBLE_EQ(calls[3].value, 4.0);
  const auto largest = run.divergence_by_layer().at("bn");
  ASSERT_EQ(largest.size(), 2u);
  EXPECT_DOUBLE_EQ(largest[1].value, 4.0);
  EXPECT_EQ(largest[1].sync_point, 1);
  fs::remove_all(dir);
}
