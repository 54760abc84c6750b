// SPDX-License-Identifier: MIT
// The C++ frontend side of the Model abstraction: the built-in demo as a FrontendModel trains
// exactly as DataParallelWithCallback trains it, and describes itself like a scripted model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "replicascope/model/demo_net.h"
#include "replicascope/model/frontend_model.h"
#include "replicascope/parallel/data_parallel.h"
#include "test_util.h"

namespace {

using replicascope::FrontendModel;
using replicascope::testing::cpu_copies;

TEST(FrontendModel, DescribesTheDemo) {
  auto model = FrontendModel::wrap(replicascope::models::DemoNet().ptr(), "demo");
  EXPECT_EQ(model->kind(), "frontend");
  std::vector<std::string> synchronized;
  for (const auto& m : model->modules()) {
    if (m.synchronized) {
      synchronized.push_back(m.name);
      EXPECT_TRUE(m.receives_callbacks);
      EXPECT_TRUE(m.type.rfind("SynchronizedBatchNorm", 0) == 0) << m.type;
    }
  }
  EXPECT_EQ(synchronized, (std::vector<std::string>{"features.1", "features.5", "head.2"}));
  EXPECT_EQ(model->modules().front().subtree_parameter_count, [&] {
    int64_t n = 0;
    for (const auto& [name, p] : model->named_parameters()) n += p.numel();
    return n;
  }());
  EXPECT_EQ(replicascope::readable_frontend_type("replicascope::models::DemoNetImpl"), "DemoNet");
}

TEST(FrontendModel, TrainsAsDataParallelWithCallback) {
  torch::manual_seed(3);
  auto net = replicascope::models::DemoNet();
  auto twin = std::dynamic_pointer_cast<replicascope::models::DemoNetImpl>(net->clone());
  auto model = FrontendModel::wrap(net.ptr(), "demo");
  model->train(true);
  twin->train(true);
  auto replicas = model->replicate(cpu_copies(3));
  replicascope::DataParallelWithCallback<replicascope::models::DemoNetImpl> reference(
      twin, replicascope::DataParallelOptions(cpu_copies(3)));
  for (int step = 0; step < 2; ++step) {
    const auto x = torch::randn({7, 1, 28, 28});
    const auto out = replicascope::data_parallel_forward(*replicas, x);
    const auto expected = reference(x);
    EXPECT_TENSOR_NEAR(out, expected, 1e-6, "output");
    out.square().mean().backward();
    expected.square().mean().backward();
    const auto twin_params = twin->named_parameters();
    for (const auto& [name, p] : model->named_parameters()) {
      EXPECT_TENSOR_NEAR(p.grad(), twin_params[name].grad(), 1e-6, name);
    }
  }
  // The wiring: the master's callbacks first, one context per module index.
  const auto& contexts = replicas->contexts();
  ASSERT_EQ(contexts.size(), model->modules().size());
  for (const auto& ctx : contexts) {
    const auto calls = ctx->calls();
    if (calls.empty()) continue;
    ASSERT_EQ(calls.size(), 3u);
    EXPECT_EQ(calls[0].copy_id, 0);
    EXPECT_LT(calls[0].order, calls[1].order);
  }
}

}  // namespace
