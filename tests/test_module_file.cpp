// SPDX-License-Identifier: MIT
// TorchScript loading and introspection against what Python reports for the same files
// (tests/fixtures/make_models.py writes both; REPLICASCOPE_FIXTURES names their folder).
#include <gtest/gtest.h>
#include <torch/script.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>

#include "replicascope/torchscript/module_file.h"
#include "test_util.h"

namespace rs = replicascope::script;
using replicascope::testing::fixture;

namespace {

struct PythonModule {
  std::string name, type;
  int64_t own = 0, subtree = 0;
};

std::vector<PythonModule> python_view(const std::string& model) {
  std::ifstream in(fixture(model + ".modules"));
  EXPECT_TRUE(in) << "missing fixture " << fixture(model + ".modules");
  std::vector<PythonModule> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    PythonModule m;
    std::string own, subtree;
    std::getline(fields, m.name, '\t');
    std::getline(fields, m.type, '\t');
    std::getline(fields, own, '\t');
    std::getline(fields, subtree, '\t');
    m.own = std::stoll(own);
    m.subtree = std::stoll(subtree);
    out.push_back(m);
  }
  return out;
}

}  // namespace

class ScriptFixtures : public ::testing::TestWithParam<std::string> {};

TEST_P(ScriptFixtures, IntrospectionMatchesPython) {
  const auto module = rs::load_module(fixture(GetParam() + ".pt"));
  const auto infos = rs::inspect(module);
  const auto expected = python_view(GetParam());
  ASSERT_EQ(infos.size(), expected.size());
  for (size_t i = 0; i < infos.size(); ++i) {
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(infos[i].name, expected[i].name);
    EXPECT_EQ(infos[i].type, expected[i].type);
    EXPECT_EQ(infos[i].own_parameter_count, expected[i].own);
    EXPECT_EQ(infos[i].subtree_parameter_count, expected[i].subtree);
    const bool is_bn = expected[i].type.rfind("BatchNorm", 0) == 0;
    EXPECT_EQ(infos[i].batch_norm.has_value(), is_bn);
    EXPECT_EQ(infos[i].receives_callbacks, is_bn);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ScriptFixtures,
                         ::testing::Values("mlp", "no_batchnorm", "resnet18", "mobilenet_v2",
                                           "r3d_18"));

TEST(ScriptModel, BatchNormOptionsComeFromClassConstants) {
  const auto infos = rs::inspect(rs::load_module(fixture("mlp.pt")));
  // Module order: "", layers, layers.0 (Linear), layers.1 = BatchNorm1d(32), ...,
  // layers.4 = BatchNorm1d(32, momentum=None).
  const auto& bn = infos[3];
  ASSERT_EQ(bn.name, "layers.1");
  ASSERT_TRUE(bn.batch_norm);
  EXPECT_EQ(bn.batch_norm->dims, 1);
  EXPECT_EQ(bn.batch_norm->num_features, 32);
  EXPECT_DOUBLE_EQ(bn.batch_norm->eps, 1e-5);
  ASSERT_TRUE(bn.batch_norm->momentum);
  EXPECT_DOUBLE_EQ(*bn.batch_norm->momentum, 0.1);
  EXPECT_TRUE(bn.batch_norm->affine);
  EXPECT_TRUE(bn.batch_norm->track_running_stats);
  ASSERT_EQ(bn.parameters.size(), 2u);
  EXPECT_EQ(bn.parameters[0].name, "weight");
  EXPECT_EQ(bn.parameters[0].shape, (std::vector<int64_t>{32}));
  ASSERT_EQ(bn.buffers.size(), 3u);
  EXPECT_EQ(bn.buffers[2].name, "num_batches_tracked");
  EXPECT_EQ(bn.buffers[2].dtype, "Long");
  const auto& cumulative = infos[6];
  ASSERT_EQ(cumulative.name, "layers.4");
  ASSERT_TRUE(cumulative.batch_norm);
  EXPECT_FALSE(cumulative.batch_norm->momentum) << "momentum=None is a cumulative average";
  // Mangled variants still read as their class.
  for (const auto& info : rs::inspect(rs::load_module(fixture("resnet18.pt")))) {
    EXPECT_EQ(info.type.find("mangle"), std::string::npos) << info.full_type;
  }
}

TEST(ScriptModel, TypeNames) {
  EXPECT_EQ(rs::readable_type("__torch__.torch.nn.modules.batchnorm.___torch_mangle_3.BatchNorm2d"),
            "BatchNorm2d");
  EXPECT_EQ(
      rs::canonical_type("__torch__.torch.nn.modules.batchnorm.___torch_mangle_3.BatchNorm2d"),
      "torch.nn.modules.batchnorm.BatchNorm2d");
  EXPECT_EQ(rs::readable_type("__torch__.torchvision.models.resnet.BasicBlock"), "BasicBlock");
}

TEST(ScriptModel, LoadErrorsSayWhatWasExpected) {
  using replicascope::testing::expect_throw_containing;
  expect_throw_containing<rs::ModelLoadError>([] { rs::load_module(fixture("nope.pt")); },
                                              "no such file");
  expect_throw_containing<rs::ModelLoadError>(
      [] { rs::load_module(fixture("")); }, "is a folder, expected a regular TorchScript .pt file");
  expect_throw_containing<rs::ModelLoadError>([] { rs::load_module(fixture("not_a_model.pt")); },
                                              "not a zip archive");
  expect_throw_containing<rs::ModelLoadError>([] { rs::load_module(fixture("truncated.pt")); },
                                              "damaged or truncated archive");
  expect_throw_containing<rs::ModelLoadError>([] { rs::load_module(fixture("state_dict.pt")); },
                                              "without TorchScript code");
}

TEST(ScriptModel, ModelWithoutBatchNormLoadsAndRuns) {
  auto module = rs::load_module(fixture("no_batchnorm.pt"));
  const auto out = module.forward({torch::randn({3, 16})}).toTensor();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 4}));
  const auto infos = rs::inspect(module);
  EXPECT_EQ(infos.size(), 4u);
  for (const auto& info : infos) EXPECT_FALSE(info.receives_callbacks) << info.name;
}

// load_module on `path`: "loaded", or the ModelLoadError's message. A call that has not returned
// after a minute is blocked in open(); a writer that closes at once releases it.
std::string load_outcome(const std::string& path) {
  auto outcome = std::async(std::launch::async, [path] {
    try {
      rs::load_module(path);
      return std::string("loaded");
    } catch (const rs::ModelLoadError& e) {
      return std::string(e.what());
    }
  });
  if (outcome.wait_for(std::chrono::minutes(1)) != std::future_status::ready) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
    return "blocked in open()";
  }
  return outcome.get();
}

TEST(ScriptModel, NonRegularFilesAreRefusedBeforeOpening) {
  const auto dir = replicascope::testing::temp_dir("model_fifo");
  const auto fifo = (dir / "model.pt").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(load_outcome(fifo), "model '" + fifo +
                                    "': is a FIFO (named pipe), expected a regular TorchScript "
                                    ".pt file");
  EXPECT_EQ(load_outcome("/dev/null"),
            "model '/dev/null': is a character device, expected a regular TorchScript .pt file");
  // A symbolic link to a model is the model.
  const auto link = dir / "link.pt";
  std::filesystem::create_symlink(std::filesystem::absolute(fixture("mlp.pt")), link);
  EXPECT_EQ(load_outcome(link.string()), "loaded");
  std::filesystem::remove_all(dir);
}

TEST(ScriptModel, EmptyShortAndUnreadableFilesSayWhichTheyAre) {
  const auto dir = replicascope::testing::temp_dir("model_files");
  const auto empty = (dir / "empty.pt").string(), tiny = (dir / "tiny.pt").string();
  std::ofstream{empty};
  std::ofstream{tiny} << "PK";
  const std::string expected =
      "expected a TorchScript archive (a zip file written by torch.jit.save)";
  EXPECT_EQ(load_outcome(empty), "model '" + empty + "': is empty (0 bytes), " + expected);
  EXPECT_EQ(load_outcome(tiny), "model '" + tiny + "': is 2 bytes long, " + expected);
  // Permission denied only where access() says so (root reads everything).
  const auto locked = (dir / "locked.pt").string();
  std::filesystem::copy_file(fixture("mlp.pt"), locked);
  std::filesystem::permissions(locked, std::filesystem::perms::none);
  if (::access(locked.c_str(), R_OK) != 0) {
    EXPECT_EQ(load_outcome(locked),
              "model '" + locked + "': cannot read it (Permission denied), " + expected);
  } else {
    EXPECT_EQ(load_outcome(locked), "loaded");
  }
  std::filesystem::remove_all(dir);
}

// One valid archive per way PyTorch writes one (tests/fixtures/archive_corpus.py): each must
// pass the archive check and load, as torch::jit::load loads it. convnext_tiny was refused for
// keeping its version at <name>/.data/version.
TEST(ScriptModel, EveryArchiveOfTheCorpusLoads) {
  std::vector<std::string> archives;
  for (const auto& entry : std::filesystem::directory_iterator(fixture("archives"))) {
    archives.push_back(entry.path().string());
  }
  std::sort(archives.begin(), archives.end());
  ASSERT_GE(archives.size(), 7u) << "the corpus is not all there: " << fixture("archives");
  for (const auto& archive : archives) {
    EXPECT_EQ(load_outcome(archive), "loaded") << archive;
    const auto module = rs::load_module(archive);
    EXPECT_FALSE(rs::inspect(module).empty()) << archive;
  }
}

TEST(ScriptModel, TensorRecordsShorterThanTheirStoragesAreRefused) {
  // mlp.pt with data/0 (the first Linear's 32x16 float weight) cut to 1024 of its 2048 bytes:
  // LibTorch 1.13 loads it and reads past the record.
  EXPECT_EQ(load_outcome(fixture("truncated_record.pt")),
            "model '" + fixture("truncated_record.pt") +
                "': record data/0 holds 1024 bytes but its tensor storage needs 2048 (512 Float "
                "elements, as data.pkl declares); a truncated or damaged archive");
  EXPECT_EQ(load_outcome(fixture("truncated_constant.pt")),
            "model '" + fixture("truncated_constant.pt") +
                "': record constants/1 holds 8 bytes but its tensor storage needs 12 (3 Float "
                "elements, as constants.pkl declares); a truncated or damaged archive");
}

TEST(ScriptModel, DamagedRecordsAreRefused) {
  // mlp.pt with one bit of data/1 (a BatchNorm weight) flipped, checksum left as it was.
  EXPECT_EQ(load_outcome(fixture("flipped_bit.pt"))
                .rfind("model '" + fixture("flipped_bit.pt") +
                           "': the record 'mlp/data/1' does not match its checksum (CRC-32 ",
                       0),
            0u);
}

TEST(ScriptModel, TensorConstantsLoad) {
  // Tracing keeps tensors that are no parameter as constants (constants.pkl, constants/).
  auto module = rs::load_module(fixture("constant_tensors.pt"));
  const auto out = module.forward({torch::zeros({2, 4})}).toTensor();
  EXPECT_TRUE(out.equal(torch::tensor({1.0f, 3.0f, 5.0f}).repeat({2, 1}))) << out;
}
