// SPDX-License-Identifier: MIT
// Stopping on SIGINT, SIGTERM and SIGHUP (base/stop_signals.h): the handler's note and pipe, a
// second signal, the ranks' vote, a session that stops after its step, a run file closed whole
// and an atomic write that leaves nothing behind.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "replicascope/base/atomic_write.h"
#include "replicascope/base/stop_signals.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/engine/session.h"
#include "replicascope/store/run_reader.h"
#include "replicascope/store/run_writer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using replicascope::testing::demo_data;
using replicascope::testing::options;
using replicascope::testing::temp_dir;

namespace {

// Leaves no stop behind for the next test of this process.
struct StopSignalsTest : ::testing::Test {
  void SetUp() override {
    replicascope::catch_stop_signals();
    replicascope::testing::set_stop_signal(0);
  }
  void TearDown() override { replicascope::testing::set_stop_signal(0); }
};

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

// The tests in the anonymous namespace too: their fixture is there (a unity build compiles this
// file inside another, where GCC would warn of a base with internal linkage).

TEST_F(StopSignalsTest, TheFirstSignalIsNotedAndWakesThePipe) {
  EXPECT_EQ(replicascope::stop_signal(), 0);
  EXPECT_NO_THROW(replicascope::stop_here_if_signalled("stopped"));
  ::raise(SIGTERM);  // handled: the process goes on
  EXPECT_EQ(replicascope::stop_signal(), SIGTERM);
  EXPECT_EQ(replicascope::signal_name(SIGTERM), "SIGTERM");
  ASSERT_GE(replicascope::stop_signal_fd(), 0);
  EXPECT_TRUE(readable(replicascope::stop_signal_fd()));
  try {
    replicascope::stop_here_if_signalled("stopped at step 3");
    ADD_FAILURE() << "expected StoppedBySignal";
  } catch (const replicascope::StoppedBySignal& e) {
    EXPECT_EQ(e.signal(), SIGTERM);
    EXPECT_EQ(e.exit_status(), 143);
    EXPECT_STREQ(e.what(), "stopped at step 3");
  }
}

TEST_F(StopSignalsTest, ASecondSignalEndsTheProcessAtOnce) {
  EXPECT_EXIT(
      {
        ::raise(SIGINT);
        ::raise(SIGINT);
        std::exit(0);  // not reached
      },
      ::testing::KilledBySignal(SIGINT), "");
}

TEST_F(StopSignalsTest, TheRanksVoteTheSameDecision) {
  // This rank got SIGTERM, another SIGINT: every rank stops, each on its own signal.
  replicascope::testing::set_stop_signal(SIGTERM);
  auto mine = replicascope::stop_votes();
  const std::array<double, replicascope::kStopVotes> theirs{1, 0, 0};  // SIGINT's slot
  for (int k = 0; k < replicascope::kStopVotes; ++k) mine[k] += theirs[k];
  EXPECT_EQ(replicascope::voted_stop_signal(mine.data()), SIGTERM);
  // A rank that got none stops on the first signal another rank got.
  replicascope::testing::set_stop_signal(0);
  EXPECT_EQ(replicascope::voted_stop_signal(mine.data()), SIGINT);
  // A signal that came after the vote waits for the next one, as on the other ranks.
  replicascope::testing::set_stop_signal(SIGHUP);
  const std::array<double, replicascope::kStopVotes> none{};
  EXPECT_EQ(replicascope::voted_stop_signal(none.data()), 0);
}

TEST_F(StopSignalsTest, ASessionAloneStopsOnTheSignalAfterItsStep) {
  replicascope::engine::Session session(replicascope::engine::demo_model(), demo_data(),
                                        options(2, true));
  session.step();
  EXPECT_EQ(session.agreed_stop_signal(), 0);
  replicascope::testing::set_stop_signal(SIGINT);
  EXPECT_EQ(session.agreed_stop_signal(), SIGINT);
}

// What users copy is the .sqlite file alone: a run closed after a stop holds every step there,
// also while a reader of the same process (the GUI's) keeps the file open, which kept the last
// steps in the -wal before.
TEST_F(StopSignalsTest, AClosedRunHoldsEveryStepInItsFileAlone) {
  namespace store = replicascope::store;
  const auto dir = temp_dir("replicascope_stop_close_");
  const auto path = (dir / "run.sqlite").string();
  replicascope::engine::Session session(replicascope::engine::demo_model(), demo_data(),
                                        options(2, true));
  {
    store::RunWriter writer(path, {{"model", "demo"}});
    for (int i = 0; i < 4; ++i) writer.append(session.step());
    const store::RunReader reader(path);  // open through the close, as the GUI's is
    EXPECT_EQ(reader.steps().size(), 4u);
    EXPECT_EQ(writer.steps_held(), 4);
    writer.close();
    EXPECT_THROW(writer.append(session.step()), store::StoreError);
    const auto wal = path + "-wal";
    EXPECT_TRUE(!fs::exists(wal) || fs::file_size(wal) == 0) << fs::file_size(wal) << " bytes";
    fs::create_directories(dir / "copy");
    fs::copy_file(path, dir / "copy" / "run.sqlite");
  }
  EXPECT_EQ(store::RunReader((dir / "copy" / "run.sqlite").string()).steps().size(), 4u);
  fs::remove_all(dir);
}

TEST_F(StopSignalsTest, AnInterruptedAtomicWriteLeavesNoFile) {
  const auto dir = temp_dir("replicascope_stop_write_");
  const auto path = (dir / "out.csv").string();
  try {
    replicascope::write_text_atomically(path, [](std::ostream& out) {
      out << "step,value\n1,2\n";
      replicascope::testing::set_stop_signal(SIGINT);
      replicascope::stop_here_if_signalled("stopped");
      out << "2,3\n";
    });
    ADD_FAILURE() << "expected StoppedBySignal";
  } catch (const replicascope::StoppedBySignal& e) {
    EXPECT_EQ(e.exit_status(), 130);
    EXPECT_EQ(std::string(e.what()),
              "stopped while writing '" + path + "'; nothing was written there");
  }
  EXPECT_TRUE(fs::is_empty(dir)) << "a partial or final file was left";
  fs::remove_all(dir);
}

}  // namespace
