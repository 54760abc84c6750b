// SPDX-License-Identifier: MIT
// The session description, its flag parser and the one factory: what the CLI's train and demo and
// the GUI's engine build their sessions with.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "replicascope/engine/input_check.h"
#include "replicascope/engine/model_source.h"
#include "replicascope/engine/session_factory.h"
#include "replicascope/store/run_model.h"
#include "replicascope/store/run_reader.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace replicascope;
using engine::SessionSpec;
using replicascope::testing::expect_throw_containing;

SessionSpec parse(const std::vector<std::pair<std::string, std::string>>& flags) {
  SessionSpec spec;
  for (const auto& [name, value] : flags) engine::set_session_flag(spec, name, value);
  engine::check_session_spec(spec);
  return spec;
}

TEST(SessionSpec, FlagsReadBackToTheSameSpec) {
  const auto spec = parse({{"model", "m.pt"},
                           {"output", "logits"},
                           {"data", "cifar10:a.bin,b.bin"},
                           {"image", "3,32,32"},
                           {"devices", "cpu:2"},
                           {"batch", "12"},
                           {"optimizer", "adam"},
                           {"lr", "0.125"},
                           {"weight-decay", "0.001"},
                           {"loss", "mse"},
                           {"seed", "9"},
                           {"unsync", ""},
                           {"dist", ""},
                           {"backend", "gloo"},
                           {"timeout", "7.5"},
                           {"run", "r.sqlite"}});
  EXPECT_EQ(spec.image, (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(spec.optimizer, engine::OptimizerKind::kAdam);
  EXPECT_EQ(spec.loss, engine::LossKind::kMse);
  EXPECT_FALSE(spec.synchronized);
  EXPECT_DOUBLE_EQ(spec.lr(), 0.125);
  const auto flags = engine::session_spec_flags(spec);
  SessionSpec again;
  for (size_t i = 0; i < flags.size(); ++i) {
    const auto name = flags[i].substr(2);
    const bool takes_value = name != "unsync" && name != "dist";
    engine::set_session_flag(again, name, takes_value ? flags[++i] : "");
  }
  EXPECT_EQ(engine::session_spec_flags(again), flags);
  EXPECT_EQ(again.model, "m.pt");
  EXPECT_EQ(again.output, "logits");
  EXPECT_EQ(again.timeout_seconds, 7.5);
  EXPECT_TRUE(engine::session_spec_flags(SessionSpec{}).empty());
}

TEST(SessionSpec, DefaultsFollowTheOptimizerAndTheInstalledData) {
  EXPECT_DOUBLE_EQ(SessionSpec{}.lr(), 0.003);
  EXPECT_DOUBLE_EQ(parse({{"optimizer", "adam"}}).lr(), 0.001);
  EXPECT_DOUBLE_EQ(engine::SessionOptions{}.learning_rate, SessionSpec{}.lr());
  // The help says the defaults the code takes.
  std::ostringstream said;
  said << "(default " << engine::kDefaultSgdLearningRate << " for sgd, "
       << engine::kDefaultAdamLearningRate << " for adam)";
  EXPECT_NE(std::string(REPLICASCOPE_SESSION_USAGE).find(said.str()), std::string::npos)
      << said.str();
  EXPECT_EQ(SessionSpec{}.data_or_default(), engine::default_data_spec());
  EXPECT_EQ(parse({{"data", "synthetic"}}).data_or_default(), "synthetic");
}

TEST(SessionSpec, BadValuesSayWhatWasExpectedAndGiven) {
  using E = UsageError;
  expect_throw_containing<E>(
      [] {
        parse({{"batch", "0"}});
      },
      "--batch expects a whole number from 1 to 1048576, got '0'");
  expect_throw_containing<E>(
      [] {
        parse({{"seed", "18446744073709551616"}});
      },
      "--seed expects a whole number from 0 to");
  expect_throw_containing<E>(
      [] {
        parse({{"optimizer", "rmsprop"}});
      },
      "--optimizer expects sgd or adam, got 'rmsprop'");
  expect_throw_containing<E>([] { parse({{"loss", "l1"}}); }, "--loss expects ce or mse");
  expect_throw_containing<E>(
      [] {
        parse({{"dist", ""}, {"timeout", "inf"}});
      },
      "--timeout expects seconds, more than 0 and at most");
  expect_throw_containing<E>(
      [] {
        parse({{"dist", ""}, {"timeout", "nan"}});
      },
      "--timeout expects seconds");
  expect_throw_containing<E>(
      [] {
        parse({{"timeout", "5"}});
      },
      "--timeout applies only with --dist");
  expect_throw_containing<E>(
      [] {
        parse({{"backend", "gloo"}});
      },
      "--backend applies only with --dist");
  expect_throw_containing<E>(
      [] {
        parse({{"image", "3,x"}});
      },
      "--image expects positive whole numbers");
  expect_throw_containing<E>(
      [] {
        parse({{"image", "1,2,3,4,5"}});
      },
      "--image expects F, C,L, C,H,W or C,T,H,W, got '1,2,3,4,5'");
  expect_throw_containing<E>([] { parse({{"lr", "nan"}}); }, "--lr expects a finite number");
  expect_throw_containing<E>([] { parse({{"run", ""}}); }, "--run expects a file");
  expect_throw_containing<E>([] { parse({{"epochs", "3"}}); }, "unknown option --epochs");
  expect_throw_containing<E>([] { engine::load_data("mnist", {}, 0); },
                             "--data expects fashion-mnist, synthetic, idx:IMAGES,LABELS, cifar10");
  expect_throw_containing<E>([] { engine::load_data("idx:only-one", {}, 0); },
                             "--data idx: expects idx:IMAGES,LABELS");
  // Refused up front from the arithmetic, before any sample is made (it ran 70 s to 15 GB).
  expect_throw_containing<E>(
      [] {
        engine::load_data("synthetic", {1, 20000, 20000}, 0, 32);
      },
      "synthetic data of 1x20000x20000 samples: a batch of 32 takes 51.2 GB "
      "(1.6 GB a sample)");
  expect_throw_containing<E>(
      [] {
        parse({{"stop-on-nonfinite", ""}, {"epochs", "1"}});
      },
      "unknown option --epochs");
}

TEST(SessionSpec, LargeSamplesMakeFewerSyntheticSamplesButAtLeastOneBatch) {
  // 1 GB of samples of 786 KB: 1271, not 4096; never fewer than one batch.
  EXPECT_EQ(engine::synthetic_sample_count({3, 256, 256}, 24),
            static_cast<int64_t>(1e9 / (4.0 * 3 * 256 * 256)));
  EXPECT_EQ(engine::synthetic_sample_count({1, 500, 500}, 1100), 1100);
  EXPECT_EQ(engine::synthetic_sample_count({1, 28, 28}, 32), 4096);
  EXPECT_EQ(engine::load_data("synthetic", {2, 3}, 0, 32)->size(), 4096);
}

TEST(SessionSpec, SyntheticDataTakesTheShapesTheBatchNormFixturesNeed) {
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{4, 16}, {3, 8, 8}, {2, 3, 8, 8}}) {
    const auto data = engine::load_data("synthetic", shape, 1);
    EXPECT_EQ(data->sample_shape(), shape);
    std::vector<int64_t> batch{5};
    batch.insert(batch.end(), shape.begin(), shape.end());
    EXPECT_EQ(data->get(torch::arange(5)).images.sizes().vec(), batch);
  }
}

TEST(SessionFactory, BuildsARecordedSessionWithItsWiring) {
  const auto dir = fs::temp_directory_path() / ("session_factory" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto spec = parse({{"data", "synthetic"}, {"devices", "cpu:2"}, {"batch", "8"}, {"seed", "4"}});
  spec.run = (dir / "a.sqlite").string();
  auto built = engine::make_session(spec);
  ASSERT_TRUE(built.run);
  EXPECT_TRUE(built.rank0());
  EXPECT_EQ(built.data_spec, "synthetic");
  EXPECT_EQ(built.wiring.devices.size(), 2u);
  EXPECT_EQ(built.session->options().batch_size, 8);
  built.run->append(built.session->step());
  // The run keeps the model's module tree and wiring in its tables.
  const store::RunReader first_run(spec.run);
  EXPECT_EQ(first_run.schema_version(), store::kSchemaVersion);
  const auto kept = first_run.model();
  EXPECT_EQ(store::wiring_to_text(kept.wiring), store::wiring_to_text(built.wiring));
  const auto modules = built.session->model().modules();
  ASSERT_EQ(kept.modules.size(), modules.size());
  for (size_t i = 0; i < modules.size(); ++i) {
    EXPECT_EQ(kept.modules[i].name, modules[i].name);
    EXPECT_EQ(kept.modules[i].type, modules[i].type);
    EXPECT_EQ(kept.modules[i].depth, modules[i].depth);
    EXPECT_EQ(kept.modules[i].own_parameter_count, modules[i].own_parameter_count);
    EXPECT_EQ(kept.modules[i].synchronized, modules[i].synchronized);
  }
  const auto first = first_run.metadata();
  EXPECT_EQ(first.at("seed"), "4");
  // A reset's new file: the same metadata and model, and its own creation time.
  built.session->reset();
  built.metadata["created"] = "earlier";
  engine::start_run(built, (dir / "b.sqlite").string());
  const store::RunReader second_run((dir / "b.sqlite").string());
  EXPECT_NE(second_run.metadata().at("created"), "earlier");
  EXPECT_EQ(store::wiring_to_text(second_run.model().wiring), store::wiring_to_text(kept.wiring));
  EXPECT_EQ(store::RunReader(spec.run).steps().size(), 1u);  // the old file keeps its step

  // Without a run file nothing is recorded, and statistics are kept only when asked for.
  spec.run.clear();
  auto quiet = engine::make_session(spec);
  EXPECT_FALSE(quiet.run);
  EXPECT_TRUE(quiet.session->step().layers.empty());
  auto observed = engine::make_session(spec, /*keep_statistics=*/true);
  EXPECT_FALSE(observed.session->step().layers.empty());
  fs::remove_all(dir);
}

TEST(SessionFactory, RefusesWhatCannotTrain) {
  auto spec = parse({{"data", "synthetic"}, {"devices", "cpu:4"}, {"batch", "3"}});
  expect_throw_containing<std::invalid_argument>([&] { engine::make_session(spec); },
                                                 "expected at least one sample per copy");
  spec = parse({{"data", "idx:/nonexistent/i.gz,/nonexistent/l.gz"}});
  expect_throw_containing<data::DataError>([&] { engine::make_session(spec); },
                                           "'/nonexistent/i.gz': no such file");
  spec = parse({{"devices", "gpu:2"}});
  expect_throw_containing<std::invalid_argument>([&] { engine::make_session(spec); },
                                                 "device list 'gpu:2'");
}

// A model that cannot take the data is said before the first step, naming its first layer, both
// shapes and data that would fit; data that fits opens and trains. The 2-D, 3-D and 1-D fixtures
// (resnet18, r3d_18, the BatchNorm1d ones) each against data of the wrong layout.
TEST(SessionFactory, SaysWhenTheModelCannotTakeTheData) {
  SKIP_IN_SANITIZED_BUILD("the scripted fixtures (make_fixtures)");
  const auto resnet18 = replicascope::testing::fixture("resnet18.pt");
  auto spec = parse({{"model", resnet18},
                     {"data", "synthetic"},
                     {"devices", "cpu:2"},
                     {"batch", "4"}});  // 1x28x28
  expect_throw_containing<UsageError>(
      [&] { engine::make_session(spec); },
      "conv1 expects 3 input channels; the data 'synthetic' has 1 (samples of 1x28x28). Try "
      "--data synthetic --image 3,28,28");
  spec.image = {3, 32};
  expect_throw_containing<UsageError>([&] { engine::make_session(spec); },
                                      "conv1 is a 2-D convolution and expects samples of C,H,W; "
                                      "the data 'synthetic' has samples of 3x32 (C,L)");
  spec.image = {3, 32, 32};
  auto built = engine::make_session(spec);
  EXPECT_TRUE(std::isfinite(built.session->step().loss));

  const auto r3d = replicascope::testing::fixture("r3d_18.pt");
  spec = parse({{"model", r3d},
                {"data", "synthetic"},
                {"image", "3,16,16"},
                {"batch", "2"},
                {"devices", "cpu:1"}});
  expect_throw_containing<UsageError>([&] { engine::make_session(spec); }, "--image 3,8,32,32");
  const auto guess = engine::guess_input(*engine::scripted_model(r3d)(true));
  EXPECT_EQ(guess.first_conv, "stem.0");
  EXPECT_EQ(guess.spatial_dims, 3);
  EXPECT_EQ(guess.in_channels, 3);
  EXPECT_GT(guess.classes, 0);
}

TEST(SessionFactory, OneForwardFindsWhatTheParametersCannotTellAndProposesAFit) {
  SKIP_IN_SANITIZED_BUILD("the scripted fixtures (make_fixtures)");
  // The MLP fixture takes [batch, 16] and has 4 outputs: no convolution to read, so only its
  // forward can say that 1x28x28 samples do not go in.
  const auto mlp = replicascope::testing::fixture("mlp.pt");
  auto spec = parse({{"model", mlp}, {"data", "synthetic"}, {"devices", "cpu:2"}, {"batch", "4"}});
  try {
    engine::make_session(spec);
    ADD_FAILURE() << "expected ModelDataMismatch";
  } catch (const engine::ModelDataMismatch& e) {
    EXPECT_NE(std::string(e.what()).find("the model's forward fails on 2 samples of 1x28x28 from "
                                         "the data 'synthetic': "),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("Try --data synthetic --image 16"), std::string::npos)
        << e.what();
    EXPECT_EQ(e.proposal().image, std::vector<int64_t>{16});
    EXPECT_EQ(e.proposal().classes, 4);
  }
  // Samples of 16 features go in; synthetic data without --classes has its 4 outputs' classes,
  // but an explicit 10 cannot be trained.
  spec.image = {16};
  EXPECT_EQ(engine::make_session(spec).session->dataset().classes(), 4);
  spec.classes = 10;
  try {
    engine::make_session(spec);
    ADD_FAILURE() << "expected ModelDataMismatch";
  } catch (const engine::ModelDataMismatch& e) {
    EXPECT_NE(std::string(e.what()).find("layers.6 has 4 outputs; the data 'synthetic' has 10 "
                                         "classes: labels past the last output cannot be trained. "
                                         "Try --classes 4"),
              std::string::npos)
        << e.what();
    EXPECT_EQ(e.proposal().classes, 4);
  }
  spec.classes = 4;
  auto built = engine::make_session(spec, /*keep_statistics=*/true);
  EXPECT_TRUE(built.session->model().is_training());  // the check's eval mode is undone
  const auto record = built.session->step();
  EXPECT_TRUE(std::isfinite(record.loss));
  EXPECT_FALSE(record.layers.empty());
  // --classes is for synthetic data only: other data has its own labels.
  spec.data = "cifar10:/nonexistent";
  expect_throw_containing<UsageError>([&] { engine::make_session(spec); },
                                      "--classes applies to synthetic data");
}

TEST(Wiring, TextRoundTripsAndRefusesWhatItDidNotWrite) {
  replicascope::Wiring wiring;
  wiring.devices = {"cpu", "cpu"};
  wiring.copies_per_rank = 2;
  replicascope::WiringRow root{0, "", "Net", false, {{true, false, -1}, {true, false, -1}}};
  replicascope::WiringRow bn{
      1, "features.bn", "BatchNorm2d", true, {{true, true, 0}, {true, true, 1}}};
  wiring.rows = {root, bn};
  const auto text = store::wiring_to_text(wiring);
  EXPECT_EQ(store::wiring_to_text(store::wiring_from_text(text)), text);
  const auto header = text.substr(0, text.find('\n'));
  using E = std::invalid_argument;
  expect_throw_containing<E>([] { store::wiring_from_text("nonsense"); }, "expected a first line");
  expect_throw_containing<E>([&] { store::wiring_from_text(header); },
                             "expected a line of devices");
  expect_throw_containing<E>([&] { store::wiring_from_text(header + "\n"); },
                             "expected a line of devices, got an empty line");
  expect_throw_containing<E>([&] { store::wiring_from_text(header + "\n2\tcpu"); },
                             "1 devices do not make whole ranks of 2 copies");
  expect_throw_containing<E>([&] { store::wiring_from_text(header + "\nx\tcpu"); },
                             "expected a number for copies per rank, got 'x'");
  expect_throw_containing<E>(
      [&] { store::wiring_from_text(header + "\n1\tcpu\n0\t1\tbn\tBatchNorm2d"); },
      "line 3 has 4 fields; expected 5");
  expect_throw_containing<E>(
      [&] { store::wiring_from_text(header + "\n1\tcpu\n0\t1\tbn\tBatchNorm2d\t1,1"); },
      "expected a cell 'present,called,order', got '1,1'");
}

TEST(Wiring, ARecordedRunsModuleTreeComesFromItsWiring) {
  replicascope::Wiring wiring;
  wiring.devices = {"cpu"};
  wiring.copies_per_rank = 1;
  wiring.rows = {{0, "", "Net", false, {{}}},
                 {1, "features", "Sequential", false, {{}}},
                 {2, "features.bn", "BatchNorm2d", true, {{}}}};
  const auto modules = store::modules_from_wiring(wiring, {"features.bn"}, true);
  ASSERT_EQ(modules.size(), 3u);
  EXPECT_EQ(modules[2].name, "features.bn");
  EXPECT_EQ(modules[2].depth, 2);
  EXPECT_EQ(modules[1].depth, 1);
  EXPECT_TRUE(modules[2].synchronized);
  EXPECT_TRUE(modules[2].receives_callbacks);
  EXPECT_FALSE(modules[1].synchronized);
  EXPECT_EQ(modules[2].own_parameter_count, -1);  // unknown for a run
  // Per-copy runs record statistics too, but nothing was synchronized.
  EXPECT_FALSE(store::modules_from_wiring(wiring, {"features.bn"}, false)[2].synchronized);
  // Runs from before the wiring was kept: the recorded layers under one root.
  const auto flat = store::modules_from_wiring({}, {"a.bn", "b.bn"}, true);
  ASSERT_EQ(flat.size(), 3u);
  EXPECT_EQ(flat[1].name, "a.bn");
  EXPECT_EQ(flat[1].depth, 1);
}

}  // namespace
