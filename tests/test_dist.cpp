// SPDX-License-Identifier: MIT
// Processes over c10d, simulated by threads of one process (each its own rank, Gloo over
// localhost): the collectives, and synchronized BatchNorm across ranks against BatchNorm on the
// whole batch. Multi-process runs of the CLI are ctest entries (tests/dist/).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <thread>

#include "replicascope/base/describe_error.h"
#include "replicascope/dist/gradient_reducer.h"
#include "replicascope/dist/process_group.h"
#include "replicascope/engine/wiring.h"
#include "replicascope/nn/sync_batchnorm.h"
#include "replicascope/store/run_model.h"
#include "replicascope/sync/sync_error.h"
#include "test_util.h"

namespace {

using namespace replicascope;
using namespace std::chrono_literals;

// Runs body(group) on `world` threads, one rank each; rethrows the first failure.
void on_ranks(int world, const std::function<void(dist::ProcessGroup&)>& body) {
  const int port = dist::free_local_port();
  std::vector<std::exception_ptr> errors(world);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        dist::Environment env;
        env.rank = rank;
        env.world_size = world;
        env.master_addr = "127.0.0.1";
        env.master_port = port;
        auto group = dist::ProcessGroup::join(env, 30s);
        body(*group);
      } catch (...) {
        errors[rank] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int rank = 0; rank < world; ++rank) {
    if (errors[rank]) FAIL() << "rank " << rank << ": " << describe(errors[rank]);
  }
}

TEST(Dist, CollectivesSumAndGatherInRankOrder) {
  on_ranks(3, [](dist::ProcessGroup& group) {
    auto values = torch::full({4}, static_cast<double>(group.rank() + 1), torch::kDouble);
    group.all_reduce_sum(values, "test sum");
    EXPECT_TRUE(values.equal(torch::full({4}, 6.0, torch::kDouble)));
    const auto all = group.all_gather(torch::tensor({double(group.rank())}), "test gather");
    ASSERT_EQ(all.size(), 3u);
    for (int r = 0; r < 3; ++r) EXPECT_EQ(all[r].item<double>(), r);
  });
}

// Each rank normalizes its share of the batch with one synchronized layer (not replicated:
// one copy per rank); forward, input grads and parameter grads (summed over ranks) equal
// BatchNorm2d on the whole batch, and the running statistics are the same on every rank.
TEST(Dist, SynchronizedBatchNormOverRanksEqualsWholeBatch) {
  torch::manual_seed(5);
  const auto input = torch::randn({7, 3, 4, 4}, torch::kDouble) * 2 + 1;
  const auto upstream = torch::randn({7, 3, 4, 4}, torch::kDouble);
  torch::nn::BatchNorm2d reference(3);
  reference->to(torch::kDouble);
  auto whole = input.clone().requires_grad_(true);
  (reference(whole) * upstream).sum().backward();
  const std::vector<int64_t> shares{3, 4};  // uneven
  on_ranks(2, [&](dist::ProcessGroup& group) {
    nn::SynchronizedBatchNorm2d layer(3);
    layer->to(torch::kDouble);
    auto shared = std::shared_ptr<dist::ProcessGroup>(&group, [](dist::ProcessGroup*) {});
    layer->set_process_group(shared);
    struct Keep : nn::StatsObserver {
      nn::SyncEvent event;
      void on_sync(const nn::SyncEvent& e) override { event = e; }
    };
    auto observer = std::make_shared<Keep>();
    layer->set_stats_observer(observer);
    const int64_t offset = group.rank() == 0 ? 0 : shares[0];
    auto part = input.narrow(0, offset, shares[group.rank()]).clone().requires_grad_(true);
    dist::GradientReducer reducer({layer->weight, layer->bias}, shared);
    const auto out = layer(part);
    (out * upstream.narrow(0, offset, shares[group.rank()])).sum().backward();
    reducer.finish();
    const auto expected_out = [&] {
      torch::NoGradGuard no_grad;
      const auto mean = input.mean({0, 2, 3}, true);
      const auto var = input.var({0, 2, 3}, /*unbiased=*/false, true);
      return ((input - mean) / (var + 1e-5).sqrt()).narrow(0, offset, shares[group.rank()]);
    }();
    EXPECT_TENSOR_NEAR(out, expected_out, 1e-10, "output");
    // The observer sees every rank's statistics from the same all-gather.
    ASSERT_EQ(observer->event.ranks.size(), 2u);
    for (int r = 0; r < 2; ++r) {
      EXPECT_EQ(observer->event.ranks[r].count, shares[r] * 16);
      const auto mine = input.narrow(0, r == 0 ? 0 : shares[0], shares[r]);
      EXPECT_TENSOR_NEAR(observer->event.ranks[r].mean, mine.mean({0, 2, 3}), 1e-12, "rank mean");
    }
    EXPECT_EQ(observer->event.count, 7 * 16);
    EXPECT_TENSOR_NEAR(part.grad(), whole.grad().narrow(0, offset, shares[group.rank()]), 1e-10,
                       "input grad");
    EXPECT_TENSOR_NEAR(layer->weight.grad(), reference->weight.grad(), 1e-10, "weight grad");
    EXPECT_TENSOR_NEAR(layer->bias.grad(), reference->bias.grad(), 1e-10, "bias grad");
    EXPECT_TENSOR_NEAR(layer->running_mean, reference->running_mean, 1e-12, "running mean");
    EXPECT_TENSOR_NEAR(layer->running_var, reference->running_var, 1e-12, "running var");
  });
}

// Gradient buckets that start from hooks inside backward: each parameter gets the sum over
// ranks of their gradients added to what it held (so two backward passes accumulate, as they do
// without processes), the same with the overlap off, and a parameter no rank uses gets zeros.
TEST(Dist, GradientReducerSumsOverRanksDuringBackward) {
  torch::manual_seed(3);
  const auto input = torch::randn({6, 5}, torch::kDouble);
  // The weights are drawn here, once: ranks are threads here, and would share the generator.
  torch::manual_seed(11);
  torch::nn::Sequential initial(torch::nn::Linear(5, 40), torch::nn::Tanh(),
                                torch::nn::Linear(40, 30), torch::nn::Tanh(),
                                torch::nn::Linear(30, 3));
  initial->to(torch::kDouble);
  auto reference = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(initial->clone());
  reference->forward(input).pow(2).sum().backward();
  on_ranks(2, [&](dist::ProcessGroup& group) {
    auto shared = std::shared_ptr<dist::ProcessGroup>(&group, [](dist::ProcessGroup*) {});
    for (const bool overlap : {true, false}) {
      auto net = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(initial->clone());
      // The unused parameter comes first, so it lands in the last bucket (buckets run backward's
      // order) and every other bucket can start inside backward.
      auto unused = torch::ones({4}, torch::kDouble).requires_grad_(true);
      std::vector<torch::Tensor> params{unused};
      for (const auto& p : net->parameters()) params.push_back(p);
      dist::GradientReducerOptions options;
      options.first_bucket_bytes = 512;
      options.bucket_bytes = 2048;
      options.overlap = overlap;
      dist::GradientReducer reducer(params, shared, options);
      ASSERT_GT(reducer.buckets(), 2u);
      const auto part = input.narrow(0, 3 * group.rank(), 3);
      for (int round = 0; round < 2; ++round) {
        net->forward(part).pow(2).sum().backward();
        reducer.finish();
        EXPECT_EQ(reducer.overlapped_buckets(), overlap ? reducer.buckets() - 1 : 0u);
      }
      const auto expected = reference->parameters();
      const auto got = net->parameters();
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_TENSOR_NEAR(got[i].grad(), 2 * expected[i].grad(), 1e-12,
                           "parameter " + std::to_string(i) + (overlap ? " (overlap)" : ""));
      }
      ASSERT_TRUE(unused.grad().defined());
      EXPECT_EQ(unused.grad().abs().max().item<double>(), 0.0);

      // A backward whose step is abandoned (as when it throws) leaves nothing behind: the next
      // one gives its own sum.
      net->forward(part).pow(2).sum().backward();
      reducer.discard();
      net->zero_grad();
      net->forward(part).pow(2).sum().backward();
      reducer.finish();
      EXPECT_TENSOR_NEAR(net->parameters()[0].grad(), expected[0].grad(), 1e-12,
                         std::string("after discard") + (overlap ? " (overlap)" : ""));
    }
  });
}

// Every rank's copies side by side, in rank order, on every rank; ranks whose copies differ in
// number are refused on every rank, by name.
TEST(Dist, WiringGathersRanksTimesCopies) {
  on_ranks(2, [](dist::ProcessGroup& group) {
    replicascope::Wiring mine;
    mine.devices = {"cpu", "cpu"};
    mine.copies_per_rank = 2;
    replicascope::WiringRow row;
    row.context_id = 4;
    row.module = "bn";
    row.expects_callbacks = true;
    row.copies = {{true, true, 2 * group.rank()}, {group.rank() == 0, true, 7}};
    mine.rows = {row};
    const auto all = engine::gather_wiring(mine, group);
    EXPECT_EQ(all.ranks(), 2);
    ASSERT_EQ(all.devices.size(), 4u);
    ASSERT_EQ(all.rows.size(), 1u);
    const auto& cells = all.rows[0].copies;
    ASSERT_EQ(cells.size(), 4u);
    EXPECT_EQ(cells[0].order, 0);
    EXPECT_EQ(cells[2].order, 2);
    EXPECT_TRUE(cells[1].present);
    EXPECT_FALSE(cells[3].present);
    EXPECT_TRUE(all.rows[0].problem(3));
    EXPECT_EQ(store::wiring_to_text(store::wiring_from_text(store::wiring_to_text(all))),
              store::wiring_to_text(all));

    if (group.rank() == 1) {
      mine.devices.push_back("cpu");
      mine.rows[0].copies.push_back({});
    }
    try {
      engine::gather_wiring(mine, group);
      ADD_FAILURE() << "expected an error";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("expected the same number on every rank"),
                std::string::npos)
          << e.what();
    }
  });
}

TEST(Dist, EnvironmentErrorsNameTheVariable) {
  ::unsetenv("WORLD_SIZE");
  EXPECT_FALSE(dist::Environment::present());
  try {
    dist::Environment::from_environment();
    FAIL() << "expected an error";
  } catch (const dist::DistError& e) {
    EXPECT_NE(std::string(e.what()).find("WORLD_SIZE is not set"), std::string::npos) << e.what();
  }
  ::setenv("WORLD_SIZE", "two", 1);
  try {
    dist::Environment::from_environment();
    FAIL() << "expected an error";
  } catch (const dist::DistError& e) {
    EXPECT_NE(std::string(e.what()).find("WORLD_SIZE='two': expected a whole number"),
              std::string::npos)
        << e.what();
  }
  ::setenv("WORLD_SIZE", "2", 1);
  ::setenv("RANK", "1", 1);
  ::unsetenv("MASTER_ADDR");
  EXPECT_THROW(dist::Environment::from_environment(), dist::DistError);
  ::setenv("MASTER_ADDR", "127.0.0.1", 1);
  ::setenv("MASTER_PORT", "29400", 1);
  ::unsetenv("LOCAL_RANK");
  const auto env = dist::Environment::from_environment();
  EXPECT_EQ(env.rank, 1);
  EXPECT_EQ(env.world_size, 2);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.master_port, 29400);
  for (const char* name : {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"}) ::unsetenv(name);
}

}  // namespace
