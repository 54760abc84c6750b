// Training sessions and the run database: determinism, synchronized against per-copy BatchNorm,
// recording, CSV export read back, and a run killed with SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "replicascope/engine/breakpoints.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/engine/session.h"
#include "replicascope/store/export.h"
#include "replicascope/store/run_store.h"
#include "test_util.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace replicascope;
using replicascope::testing::cpu_copies;

std::shared_ptr<const data::Dataset> demo_data() {
  static std::shared_ptr<const data::Dataset> data = data::make_synthetic({1, 28, 28}, 10, 256, 1);
  return data;
}

engine::SessionOptions options(int copies, bool synchronized) {
  engine::SessionOptions o;
  o.devices = cpu_copies(copies);
  o.batch_size = 16;
  o.synchronized = synchronized;
  o.seed = 7;
  return o;
}

fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / (name + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(Session, SameSeedGivesTheSameStatistics) {
  engine::Session a(engine::demo_model(), demo_data(), options(3, true));
  engine::Session b(engine::demo_model(), demo_data(), options(3, true));
  for (int i = 0; i < 3; ++i) {
    const auto x = a.step(), y = b.step();
    EXPECT_EQ(x.loss, y.loss);
    ASSERT_EQ(x.layers.size(), 3u);  // the demo's three synchronized layers, one call each
    ASSERT_EQ(x.layers.size(), y.layers.size());
    for (size_t l = 0; l < x.layers.size(); ++l) {
      EXPECT_EQ(x.layers[l].layer, y.layers[l].layer);
      EXPECT_EQ(x.layers[l].mean, y.layers[l].mean);
      EXPECT_EQ(x.layers[l].copies.size(), 3u);
      EXPECT_EQ(x.layers[l].copies[1].var, y.layers[l].copies[1].var);
    }
  }
  a.reset();
  EXPECT_EQ(a.steps_done(), 0);
  engine::Session c(engine::demo_model(), demo_data(), options(3, true));
  EXPECT_EQ(a.step().loss, c.step().loss);
}

// Pausing every copy at sync points changes nothing: the paused step equals an unpaused one.
TEST(Session, BreakpointsPauseEveryCopyAndChangeNothing) {
  engine::Session plain(engine::demo_model(), demo_data(), options(3, true));
  const auto expected = plain.step();
  ASSERT_EQ(expected.layers.size(), 3u);

  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> hits;
  std::vector<size_t> copies_at_hit;
  auto gate = std::make_shared<engine::BreakpointGate>([&](const nn::SyncEvent& event) {
    std::lock_guard<std::mutex> lock(mutex);
    hits.push_back(event.layer);
    copies_at_hit.push_back(event.copies.size());
    cv.notify_all();
  });
  gate->set_breakpoints({expected.layers[0].layer});
  engine::Session paused(engine::demo_model(), demo_data(), options(3, true));
  paused.set_sync_listener(gate);
  engine::StepRecord got;
  std::thread stepper([&] {
    gate->begin_step();
    got = paused.step();
  });
  auto wait_for_hits = [&](size_t n) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return hits.size() >= n; });
  };
  ASSERT_TRUE(wait_for_hits(1));
  EXPECT_TRUE(gate->paused());
  gate->resume(engine::ResumeMode::kNextSyncPoint);  // stops again at the next layer
  ASSERT_TRUE(wait_for_hits(2));
  gate->resume(engine::ResumeMode::kEndOfBatch);
  stepper.join();
  EXPECT_EQ(hits, (std::vector<std::string>{expected.layers[0].layer, expected.layers[1].layer}));
  EXPECT_EQ(copies_at_hit, (std::vector<size_t>{3, 3}));
  EXPECT_EQ(got.loss, expected.loss);
  ASSERT_EQ(got.layers.size(), expected.layers.size());
  for (size_t l = 0; l < got.layers.size(); ++l) {
    EXPECT_EQ(got.layers[l].mean, expected.layers[l].mean);
    EXPECT_EQ(got.layers[l].running_var, expected.layers[l].running_var);
  }
  // Released, the gate pauses no more: a later step runs through.
  gate->release();
  paused.step();
  EXPECT_EQ(hits.size(), 2u);
}

TEST(Session, SynchronizedAndPerCopyAgreeAtOneCopyAndDifferAtFour) {
  for (int copies : {1, 4}) {
    engine::Session sync(engine::demo_model(), demo_data(), options(copies, true));
    engine::Session local(engine::demo_model(), demo_data(), options(copies, false));
    double largest = 0, divergence = 0;
    for (int i = 0; i < 3; ++i) {
      const auto s = sync.step(), u = local.step();
      largest = std::max(largest, std::abs(s.loss - u.loss));
      EXPECT_EQ(u.layers.size(), 3u) << "per-copy runs are observed too";
      for (const auto& layer : s.layers) divergence = std::max(divergence, layer.divergence);
    }
    if (copies == 1) {
      EXPECT_LT(largest, 1e-4) << "one copy: synchronized BatchNorm is BatchNorm";
      EXPECT_EQ(divergence, 0.0);
    } else {
      EXPECT_GT(largest, 1e-3) << "four copies of 4 samples: per-copy statistics differ";
      EXPECT_GT(divergence, 0.05);
    }
  }
}

TEST(Session, RunStopsWhenToldAndCarriesOn) {
  engine::Session session(engine::demo_model(), demo_data(), options(2, true));
  std::atomic<bool> stop{false};
  std::vector<int64_t> seen;
  const auto ran = session.run(stop, 100, [&](const engine::StepRecord& r) {
    seen.push_back(r.step);
    if (r.step == 3) stop = true;  // a pause requested while step 3 ran
  });
  EXPECT_EQ(ran, 3);
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3}));
  stop = false;
  EXPECT_EQ(session.run(stop, 2, nullptr), 2);
  EXPECT_EQ(session.steps_done(), 5);
}

TEST(Session, RefusesABatchSmallerThanTheCopies) {
  auto o = options(4, true);
  o.batch_size = 3;
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [&] { engine::Session(engine::demo_model(), demo_data(), o); },
      "a batch of 3 cannot feed 4 copies");
}

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
    EXPECT_EQ(copy, store::copy_label(row.copy));
    EXPECT_EQ(std::stoll(channel), row.channel);
    EXPECT_EQ(statistic, row.statistic);
    EXPECT_EQ(std::stod(value), row.value);  // 17 digits: exact
  }
  EXPECT_FALSE(std::getline(in, line));
  // The synchronized row equals what the session reported.
  EXPECT_THROW(store::write_csv(run, filter, "/nonexistent-dir/x.csv"), std::runtime_error);
  fs::remove_all(dir);
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
