// SPDX-License-Identifier: MIT
// Scripted models as Models: conversion to synchronized batch norm, replication with callbacks,
// data-parallel training against PyTorch's own BatchNorm on the whole batch, and the round trip
// back to Python. verify() has its own file, test_verify.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include <unistd.h>

#include "replicascope/model/scripted_model.h"
#include "replicascope/nn/sync_batchnorm.h"
#include "replicascope/torchscript/module_file.h"
#include "test_util.h"

namespace {

using replicascope::ScriptedModel;
using replicascope::ScriptedModelOptions;
using replicascope::testing::cpu_copies;
using replicascope::testing::expect_throw_containing;
using replicascope::testing::fixture;

// Counts sync events per layer and keeps the sync points seen.
struct EventLog : replicascope::nn::StatsObserver {
  std::mutex mutex;
  std::map<std::string, std::vector<int64_t>> sync_points;
  std::map<std::string, int64_t> counts;
  void on_sync(const replicascope::nn::SyncEvent& event) override {
    std::lock_guard<std::mutex> lock(mutex);
    sync_points[event.layer].push_back(event.sync_point);
    counts[event.layer] = event.count;
  }
};

TEST(ScriptedModel, DescribesItsModulesAndSynchronizedLayers) {
  auto model = ScriptedModel::load(fixture("reused_bn.pt"));
  EXPECT_EQ(model->kind(), "torchscript");
  std::vector<std::string> synchronized;
  for (const auto& m : model->modules()) {
    if (m.synchronized) synchronized.push_back(m.name);
    EXPECT_EQ(m.synchronized, m.receives_callbacks);
  }
  EXPECT_EQ(synchronized, (std::vector<std::string>{"bn", "bn_plain", "bn_average"}));
  EXPECT_EQ(model->sync_layers().size(), 3u);

  auto plain = ScriptedModel::load(fixture("reused_bn.pt"), ScriptedModelOptions().convert(false));
  for (const auto& m : plain->modules()) EXPECT_FALSE(m.synchronized) << m.name;
  // The same parameters, by name and value.
  const auto a = model->named_parameters(), b = plain->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(a[i].second.equal(b[i].second)) << a[i].first;
  }
}

TEST(ScriptedModel, ModelWithoutBatchNormRunsWithNothingToSynchronize) {
  auto model = ScriptedModel::load(fixture("no_batchnorm.pt"));
  EXPECT_TRUE(model->sync_layers().empty());
  auto replicas = model->replicate(cpu_copies(2));
  const auto x = torch::randn({6, 16});
  const auto out = replicascope::data_parallel_forward(*replicas, x);
  EXPECT_TENSOR_NEAR(out, model->forward(x), 1e-6, "no-BatchNorm output");
  for (const auto& ctx : replicas->contexts()) EXPECT_TRUE(ctx->calls().empty());
}

TEST(ScriptedModel, LayerCalledTwiceHasTwoSyncPointsPerStep) {
  auto model = ScriptedModel::load(fixture("reused_bn.pt"));
  auto log = std::make_shared<EventLog>();
  model->set_stats_observer(log);
  model->train(true);
  auto replicas = model->replicate(cpu_copies(3));
  for (int step = 0; step < 2; ++step) {
    replicascope::data_parallel_forward(*replicas, torch::randn({7, 3, 5, 5}));
  }
  EXPECT_EQ(log->sync_points["bn"], (std::vector<int64_t>{0, 1, 0, 1}));
  EXPECT_EQ(log->sync_points["bn_average"], (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(log->counts["bn"], 7 * 5 * 5);  // the whole batch's values per channel
  // One running-stat update per call, on the model itself.
  const auto buffers = model->named_buffers();
  for (const auto& [name, value] : buffers) {
    if (name == "bn.num_batches_tracked") {
      EXPECT_EQ(value.item<int64_t>(), 4);
    }
    if (name == "bn_average.num_batches_tracked") {
      EXPECT_EQ(value.item<int64_t>(), 2);
    }
  }
}

TEST(ScriptedModel, ObserverSetAfterReplicationIsUsed) {
  auto model = ScriptedModel::load(fixture("mlp.pt"));
  model->train(true);
  auto replicas = model->replicate(cpu_copies(2));
  replicascope::data_parallel_forward(*replicas, torch::randn({6, 16}));
  auto log = std::make_shared<EventLog>();
  model->set_stats_observer(log);
  replicascope::data_parallel_forward(*replicas, torch::randn({6, 16}));
  EXPECT_EQ(log->sync_points.size(), 2u);
  EXPECT_EQ(log->counts["layers.1"], 6);
}

// Per-copy BatchNorm through the library's layer (observed) equals PyTorch's own BatchNorm under
// plain data parallelism: outputs, gradients, and running statistics from copy 0's batch.
TEST(ScriptedModel, ObservedPerCopyModeEqualsPlainDataParallelBatchNorm) {
  auto observed =
      ScriptedModel::load(fixture("reused_bn.pt"), ScriptedModelOptions().synchronize(false));
  auto plain = ScriptedModel::load(fixture("reused_bn.pt"), ScriptedModelOptions().convert(false));
  auto log = std::make_shared<EventLog>();
  observed->set_stats_observer(log);
  observed->train(true);
  plain->train(true);
  auto a = observed->replicate(cpu_copies(3)), b = plain->replicate(cpu_copies(3));
  for (int step = 0; step < 2; ++step) {
    const auto x = torch::randn({9, 3, 5, 5});
    const auto out_a = replicascope::data_parallel_forward(*a, x, {4, 3, 2});
    const auto out_b = replicascope::data_parallel_forward(*b, x, {4, 3, 2});
    EXPECT_TENSOR_NEAR(out_a, out_b, 1e-5, "per-copy output");
    out_a.sum().backward();
    out_b.sum().backward();
  }
  const auto pa = observed->named_parameters(), pb = plain->named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TENSOR_NEAR(pa[i].second.grad(), pb[i].second.grad(), 1e-4, pa[i].first);
  }
  const auto ba = observed->named_buffers(), bb = plain->named_buffers();
  for (size_t i = 0; i < ba.size(); ++i)
    EXPECT_TENSOR_NEAR(ba[i].second, bb[i].second, 1e-5, ba[i].first);
  EXPECT_EQ(log->sync_points["bn"], (std::vector<int64_t>{0, 1, 0, 1}));
  EXPECT_EQ(log->counts["bn"], 9 * 5 * 5);  // the observer sees the whole batch
}

TEST(ScriptedModel, EmptyCopiesTakePartWithNoSamples) {
  auto model = ScriptedModel::load(fixture("mlp.pt"));
  auto plain = ScriptedModel::load(fixture("mlp.pt"), ScriptedModelOptions().convert(false));
  model->train(true);
  plain->train(true);
  auto replicas = model->replicate(cpu_copies(4));
  const auto x = torch::randn({3, 16});
  const auto out = replicascope::data_parallel_forward(*replicas, x);
  EXPECT_TENSOR_NEAR(out, plain->forward(x), 1e-5, "batch of 3 over 4 copies");
}

// The wiring of a scripted model equals that of the same model in the C++ frontend: one context
// per module index in module order, the master's callbacks first.
TEST(ScriptedModel, ContextMappingMatchesTheFrontendPath) {
  namespace tnn = torch::nn;
  namespace rnn = replicascope::nn;
  struct MlpImpl : tnn::Cloneable<MlpImpl> {
    tnn::Sequential layers;
    MlpImpl() { reset(); }
    void reset() override {
      layers = register_module(
          "layers",
          tnn::Sequential(tnn::Linear(16, 32), rnn::SynchronizedBatchNorm1d(32), tnn::ReLU(),
                          tnn::Linear(32, 32), rnn::SynchronizedBatchNorm1d(32), tnn::ReLU(),
                          tnn::Linear(32, 4)));
    }
  };
  auto frontend = std::make_shared<MlpImpl>();
  const auto expected = replicascope::replicate(frontend, cpu_copies(3)).contexts;

  auto model = ScriptedModel::load(fixture("mlp.pt"));
  const auto replicas = model->replicate(cpu_copies(3));
  const auto& got = replicas->contexts();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t j = 0; j < got.size(); ++j) {
    EXPECT_EQ(got[j]->id(), expected[j]->id());
    EXPECT_EQ(got[j]->module_name(), expected[j]->module_name());
    const auto a = got[j]->calls(), b = expected[j]->calls();
    ASSERT_EQ(a.size(), b.size()) << got[j]->module_name();
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].copy_id, b[k].copy_id);
      EXPECT_EQ(a[k].order, b[k].order);
    }
    EXPECT_EQ(got[j]->origin() != nullptr, !a.empty()) << "callback modules know their origin";
  }
}

TEST(ScriptedModel, ConvertedModuleOutlivingItsModelFailsClearly) {
  torch::jit::Module orphan;
  {
    auto model = ScriptedModel::load(fixture("mlp.pt"));
    orphan = model->module();
  }
  expect_throw_containing<std::exception>(
      [&] {
        orphan.forward({torch::randn({4, 16})});
      },
      "no longer exists");
}

TEST(ScriptedModel, SaveRefusesAnUnwritablePathAndLeavesNothing) {
  auto model = ScriptedModel::load(fixture("mlp.pt"));
  const std::string path = "/nonexistent-dir/model.pt";
  expect_throw_containing<std::runtime_error>([&] { model->save(path); }, path);
  EXPECT_FALSE(std::filesystem::exists("/nonexistent-dir"));
}

void write_raw(const std::string& path, const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat).contiguous();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(c.data_ptr<float>()), c.numel() * sizeof(float));
}

// Trained in C++ on 2 copies, saved, then loaded and run by PyTorch in Python: plain BatchNorm
// code, the trained weights and running statistics, the same eval output.
TEST(ScriptedModel, SavedModelRoundTripsToPython) {
  const std::string python = REPLICASCOPE_PYTHON;  // the python3 with torch that CMake found
  const auto dir =
      std::filesystem::temp_directory_path() / ("replicascope_rt_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto model = ScriptedModel::load(fixture("mlp.pt"));
  model->train(true);
  auto replicas = model->replicate(cpu_copies(2));
  for (int step = 0; step < 3; ++step) {
    auto loss =
        replicascope::data_parallel_forward(*replicas, torch::randn({10, 16})).square().mean();
    loss.backward();
    torch::NoGradGuard no_grad;
    for (auto& [name, p] : model->named_parameters()) {
      p.sub_(0.1 * p.grad());
      p.mutable_grad() = torch::Tensor();
    }
  }
  model->train(false);
  const auto x = torch::randn({5, 16});
  const auto y = model->forward(x);
  model->save((dir / "trained.pt").string());
  write_raw((dir / "x.bin").string(), x);
  write_raw((dir / "y.bin").string(), y);
  torch::Tensor running_mean;
  for (const auto& [name, b] : model->named_buffers())
    if (name == "layers.1.running_mean") running_mean = b;
  write_raw((dir / "running_mean.bin").string(), running_mean);
  const std::string command = python + " " + std::string(REPLICASCOPE_SOURCE_DIR) +
                              "/tests/fixtures/check_round_trip.py " + dir.string();
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::filesystem::remove_all(dir);
}

}  // namespace
