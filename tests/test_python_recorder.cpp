// SPDX-License-Identifier: MIT
// The run file as a contract between writers (docs/run-format.md): a run the Python recorder
// (python/replicascope) wrote at test time, with Debian's python3-torch, opens in the C++ reader,
// and its values equal what this test recomputes from the data it made: float64 statistics of
// the batch, and the running statistics of LibTorch's own BatchNorm2d on the same batches.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "replicascope/store/run_reader.h"
#include "test_util.h"

namespace {

using namespace replicascope;

TEST(RunStore, OpensARunThePythonRecorderWrote) {
  constexpr int64_t kSteps = 2, kN = 6, kC = 3, kH = 5, kW = 4;
  const auto dir = replicascope::testing::temp_dir("replicascope_python_run_");
  torch::manual_seed(11);
  const auto x = torch::randn({kSteps, kN, kC, kH, kW}) * 3 + 1;
  {
    std::ofstream out(dir / "data.bin", std::ios::binary);
    out.write(reinterpret_cast<const char*>(x.data_ptr<float>()), x.numel() * sizeof(float));
  }
  const auto run_path = (dir / "python.sqlite").string();
  const std::string command = std::string(REPLICASCOPE_PYTHON) + " " + REPLICASCOPE_SOURCE_DIR +
                              "/python/tests/write_run_for_cpp.py " + (dir / "data.bin").string() +
                              " " + std::to_string(kSteps) + " " + std::to_string(kN) + " " +
                              std::to_string(kC) + " " + std::to_string(kH) + " " +
                              std::to_string(kW) + " " + run_path;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  const store::RunReader run(run_path);
  EXPECT_EQ(run.schema_version(), store::kSchemaVersion);
  const auto meta = run.metadata();
  EXPECT_EQ(meta.at("writer").rfind("replicascope-python ", 0), 0u);
  EXPECT_EQ(meta.at("batch"), std::to_string(kN));
  const auto steps = run.steps();
  ASSERT_EQ(steps.size(), static_cast<size_t>(kSteps));
  EXPECT_EQ(steps[1].step, 2);
  EXPECT_DOUBLE_EQ(steps[1].accuracy, 0.5);
  EXPECT_TRUE(steps[1].nonfinite.empty());
  const auto model = run.model();
  ASSERT_EQ(model.modules.size(), 8u);
  EXPECT_EQ(model.modules[1].name, "0");
  EXPECT_EQ(model.modules[1].type, "BatchNorm2d");
  EXPECT_EQ(model.modules[1].subtree_parameter_count, 2 * kC);
  ASSERT_EQ(model.wiring.devices, std::vector<std::string>{"cpu"});

  // What the file says of layer "0", per step and series.
  std::map<std::tuple<int64_t, std::string, Statistic>, std::vector<double>> got;
  store::StatFilter layer;
  layer.layer = "0";
  run.for_each_stat(layer, [&](const store::StatRow& row) {
    got[{row.step, row.key.label(), row.statistic}].push_back(row.value);
  });
  auto recorded = [&](int64_t step, const std::string& key, Statistic statistic) {
    const auto& values = got[{step, key, statistic}];
    return torch::tensor(values, torch::kDouble);
  };
  torch::nn::BatchNorm2d reference(kC);  // LibTorch's own, trained on the same batches
  reference->train();
  for (int64_t s = 0; s < kSteps; ++s) {
    const auto batch = x[s].to(torch::kDouble);
    const auto mean = batch.mean({0, 2, 3});
    const auto var = batch.var({0, 2, 3}, /*unbiased=*/false);
    for (const char* key : {"copy 0", "synchronized"}) {
      EXPECT_TRUE(torch::allclose(recorded(s + 1, key, Statistic::kMean), mean, 1e-6, 1e-9))
          << key << " step " << s + 1;
      EXPECT_TRUE(torch::allclose(recorded(s + 1, key, Statistic::kVar), var, 1e-6, 1e-9))
          << key << " step " << s + 1;
    }
    reference(x[s]);
    EXPECT_TRUE(torch::equal(recorded(s + 1, "running", Statistic::kMean),
                             reference->running_mean.to(torch::kDouble)));
    EXPECT_TRUE(torch::equal(recorded(s + 1, "running", Statistic::kVar),
                             reference->running_var.to(torch::kDouble)));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
