// TorchScript loading and introspection against what Python reports for the same files
// (tests/fixtures/make_models.py writes both; REPLICASCOPE_FIXTURES names their folder).
#include <gtest/gtest.h>
#include <torch/script.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "replicascope/script/module_file.h"
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
  expect_throw_containing<rs::ModelLoadError>([] { rs::load_module(fixture("")); },
                                              "is a directory");
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
