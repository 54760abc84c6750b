// SPDX-License-Identifier: MIT
// Replication callbacks, replicate's gradient edges, scatter plans and device lists.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "replicascope/replicascope.h"
#include "test_util.h"

using namespace replicascope;
using replicascope::testing::cpu_copies;

namespace {

struct CallLog {
  std::mutex mutex;
  std::vector<std::tuple<CallbackContext*, int, std::string>> calls;  // context, copy, module
};

// A module that records every replication callback it gets.
class RecorderImpl : public torch::nn::Cloneable<RecorderImpl>, public ReplicationCallback {
 public:
  RecorderImpl(std::shared_ptr<CallLog> log, std::string tag)
      : log_(std::move(log)), tag_(std::move(tag)) {}
  void reset() override {}
  torch::Tensor forward(const torch::Tensor& x) { return x; }
  void data_parallel_replicate(CallbackContext& ctx, int copy_id) override {
    std::lock_guard<std::mutex> lock(log_->mutex);
    log_->calls.emplace_back(&ctx, copy_id, tag_);
    if (copy_id == 0) ctx.put("tag", std::make_shared<std::string>(tag_));
    // A slave reads what its master left: the master ran first.
    EXPECT_EQ(*ctx.get<std::string>("tag"), tag_);
  }

 private:
  std::shared_ptr<CallLog> log_;
  std::string tag_;
};
TORCH_MODULE(Recorder);

}  // namespace

TEST(ReplicationCallbacks, ContextsPerModuleIndexMasterFirst) {
  auto log = std::make_shared<CallLog>();
  torch::nn::Sequential model(Recorder(log, "a"), torch::nn::Linear(3, 3), Recorder(log, "b"));
  auto replicas = replicate(model.ptr(), cpu_copies(3));
  ASSERT_EQ(replicas.copies.size(), 3u);
  // Module order: the Sequential (0), recorder a (1), the Linear (2), recorder b (3).
  ASSERT_EQ(replicas.contexts.size(), 4u);
  ASSERT_EQ(log->calls.size(), 6u);  // two recorders x three copies
  for (size_t k = 0; k < log->calls.size(); ++k) {
    const auto& [ctx, copy, tag] = log->calls[k];
    EXPECT_EQ(copy, static_cast<int>(k / 2)) << "copy-major order, master first";
    EXPECT_EQ(ctx, replicas.contexts[tag == "a" ? 1 : 3].get()) << "shared per module index";
  }
  EXPECT_EQ(replicas.contexts[1]->module_name(), "0");
  EXPECT_EQ(replicas.contexts[3]->module_name(), "2");
  const auto calls = replicas.contexts[3]->calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].copy_id, 0);
  EXPECT_EQ(calls[0].order, 1);
  EXPECT_EQ(calls[2].copy_id, 2);
  EXPECT_EQ(calls[2].order, 5);
  EXPECT_TRUE(replicas.contexts[2]->calls().empty()) << "the Linear has no callback";
  EXPECT_EQ(replicas.contexts[1]->origin(), model->ptr(0));
}

TEST(ReplicationCallbacks, NonIsomorphicCopiesAreRefused) {
  auto log = std::make_shared<CallLog>();
  torch::nn::Sequential a(Recorder(log, "a"), torch::nn::Linear(3, 3));
  torch::nn::Sequential shorter(Recorder(log, "a"));
  torch::nn::Sequential other_type(Recorder(log, "a"), torch::nn::ReLU());
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [&] {
        execute_replication_callbacks({a.ptr(), shorter.ptr()});
      },
      "copies must be isomorphic");
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [&] {
        execute_replication_callbacks({a.ptr(), other_type.ptr()});
      },
      "module 2 ('1')");
  EXPECT_TRUE(log->calls.empty()) << "no callback runs when the copies are refused";
}

TEST(ReplicationCallbacks, ContextStorageIsTyped) {
  CallbackContext ctx(0, "x", "T");
  ctx.put("n", std::make_shared<int>(3));
  EXPECT_EQ(*ctx.get<int>("n"), 3);
  EXPECT_THROW(ctx.get<double>("n"), std::invalid_argument);
  EXPECT_THROW(ctx.get<int>("missing"), std::out_of_range);
}

TEST(ReplicationCallbacks, PatchForAUserReplicateFunction) {
  auto log = std::make_shared<CallLog>();
  torch::nn::Sequential model(Recorder(log, "a"));
  auto my_replicate = [](const std::shared_ptr<torch::nn::SequentialImpl>& m,
                         const std::vector<torch::Device>& devices) {
    std::vector<std::shared_ptr<torch::nn::SequentialImpl>> out;
    for (const auto& d : devices) {
      out.push_back(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(m->clone(d)));
    }
    return out;
  };
  auto patched = with_replication_callbacks<torch::nn::SequentialImpl>(my_replicate);
  auto copies = patched(model.ptr(), cpu_copies(2));
  EXPECT_EQ(copies.size(), 2u);
  EXPECT_EQ(log->calls.size(), 2u);
}

TEST(Replicate, GradientsReachTheOriginalParameters) {
  torch::manual_seed(0);
  torch::nn::Linear linear(4, 2);
  auto replicas = replicate(linear.ptr(), cpu_copies(3));
  const auto x = torch::randn({3, 5, 4});
  torch::Tensor loss = torch::zeros({});
  for (int i = 0; i < 3; ++i) loss = loss + replicas.copies[i]->forward(x[i]).pow(2).sum();
  loss.backward();
  auto reference = linear->forward(x.reshape({15, 4})).pow(2).sum();
  const auto grad = linear->weight.grad().clone();
  linear->weight.grad().zero_();
  reference.backward();
  EXPECT_TENSOR_NEAR(grad, linear->weight.grad(), 1e-5, "summed copy gradients");
}

TEST(Scatter, SplitSizesAndPlans) {
  EXPECT_EQ(split_sizes(10, 4), (std::vector<int64_t>{3, 3, 2, 2}));
  EXPECT_EQ(split_sizes(3, 4), (std::vector<int64_t>{1, 1, 1, 0}));
  const auto x = torch::zeros({3, 2});
  EXPECT_EQ(plan_scatter(x, DataParallelOptions(cpu_copies(4))).sizes,
            (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(
      plan_scatter(x, DataParallelOptions(cpu_copies(4)).empty_copies(EmptyCopies::kRun)).sizes,
      (std::vector<int64_t>{1, 1, 1, 0}));
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [&] {
        plan_scatter(x, DataParallelOptions(cpu_copies(2)).chunk_sizes({1, 1}));
      },
      "add up to the batch (3)");
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [&] { plan_scatter(torch::tensor(1.0), DataParallelOptions(cpu_copies(2))); },
      "batch dimension");
}

TEST(Devices, ParseAndFormat) {
  EXPECT_EQ(parse_devices("cpu").size(), 1u);
  const auto four = parse_devices("cpu:4");
  ASSERT_EQ(four.size(), 4u);
  EXPECT_TRUE(four[3].is_cpu());
  EXPECT_EQ(format_devices(four), "cpu:4");
  EXPECT_EQ(format_devices(parse_devices("cpu")), "cpu");
  for (const char* bad : {"gpu:2", "cpu:x", "cpu:0", "cpu:-1", "cpu:"}) {
    EXPECT_THROW(parse_devices(bad), std::invalid_argument) << bad;
  }
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [] { parse_devices("tpu"); }, "expected cpu, cpu:N, cuda or cuda:I,J");
  // What was expected and what was given: a negative count, or one past the most.
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [] { parse_devices("cpu:-1"); },
      "'-1' is negative; the number of CPU copies must be 1 to 1024");
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [] { parse_devices("cpu:99999999999"); },
      "'99999999999' is past the most; the number of CPU copies must be 1 to 1024");
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [] { parse_devices("cpu:99999999999999999999999"); }, "is past the most");
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [] { parse_devices("cpu:1x"); }, "'1x' is not a whole number");
  if (!torch::cuda::is_available()) {
    replicascope::testing::expect_throw_containing<std::invalid_argument>(
        [] { parse_devices("cuda:0"); }, "no CUDA");
  }
}
