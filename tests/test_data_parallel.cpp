// SPDX-License-Identifier: MIT
// Whole models: convert_model + DataParallelWithCallback against single-device training, faults
// at every sync point, mismatched call counts, and the statistics observer.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>

#include "replicascope/replicascope.h"
#include "test_util.h"

using namespace replicascope;
using replicascope::testing::cpu_copies;
using replicascope::testing::describe;

namespace {

torch::nn::Sequential make_cnn() {
  using namespace torch::nn;
  return Sequential(Conv2d(Conv2dOptions(3, 8, 3).padding(1)), BatchNorm2d(8), ReLU(),
                    Conv2d(Conv2dOptions(8, 8, 3).padding(1)), BatchNorm2d(8), ReLU(),
                    Conv2d(Conv2dOptions(8, 4, 3).padding(1)), BatchNorm2d(4), ReLU(), Flatten(),
                    Linear(4 * 6 * 6, 16), BatchNorm1d(16));
}

// Throws on one copy just before one sync point, when told to.
struct FaultPlan {
  int copy = -1;
  int point = -1;
};

class FaultImpl : public torch::nn::Cloneable<FaultImpl>, public ReplicationCallback {
 public:
  FaultImpl(std::shared_ptr<FaultPlan> plan, int point) : plan_(std::move(plan)), point_(point) {}
  void reset() override {}
  void data_parallel_replicate(CallbackContext&, int copy_id) override { copy_ = copy_id; }
  torch::Tensor forward(const torch::Tensor& x) {
    if (plan_->copy == copy_ && plan_->point == point_) {
      throw std::runtime_error("injected fault on copy " + std::to_string(copy_) +
                               " before sync point " + std::to_string(point_));
    }
    return x;
  }

 private:
  std::shared_ptr<FaultPlan> plan_;
  int point_;
  int copy_ = -1;
};
TORCH_MODULE(Fault);

// Calls its layer twice on copy 1 and once elsewhere.
class UnevenCallsImpl : public torch::nn::Cloneable<UnevenCallsImpl>, public ReplicationCallback {
 public:
  UnevenCallsImpl() { reset(); }
  void reset() override { bn = register_module("bn", nn::SynchronizedBatchNorm1d(4)); }
  void data_parallel_replicate(CallbackContext&, int copy_id) override { copy_ = copy_id; }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = bn->forward(x);
    return copy_ == 1 ? bn->forward(y) : y;
  }
  nn::SynchronizedBatchNorm1d bn{nullptr};

 private:
  int copy_ = -1;
};
TORCH_MODULE(UnevenCalls);

struct RecordingObserver : nn::StatsObserver {
  std::mutex mutex;
  std::vector<nn::SyncEvent> events;
  void on_sync(const nn::SyncEvent& event) override {
    std::lock_guard<std::mutex> lock(mutex);
    events.push_back(event);
  }
};

}  // namespace

class ModelEquivalence : public ::testing::TestWithParam<int> {};

TEST_P(ModelEquivalence, ConvertedModelTrainsLikeTheWholeBatch) {
  const int n = GetParam();
  torch::manual_seed(42);
  auto reference = make_cnn();
  auto converted = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(reference->clone());
  nn::convert_model(converted);
  DataParallelWithCallback<torch::nn::SequentialImpl> parallel(converted, cpu_copies(n));
  torch::optim::SGD opt_ref(reference->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  torch::optim::SGD opt_sync(converted->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  const auto ref_params = reference->named_parameters();
  const auto sync_params = converted->named_parameters();
  const auto ref_buffers = reference->named_buffers();
  const auto sync_buffers = converted->named_buffers();
  for (int step = 0; step < 4; ++step) {
    SCOPED_TRACE("N=" + std::to_string(n) + " step " + std::to_string(step));
    const int64_t batch = 4 * n + (step % 2);  // every other step uneven
    const auto x = torch::randn({batch, 3, 6, 6});
    const auto target = torch::randn({batch, 16});
    auto x_ref = x.clone().requires_grad_(true), x_sync = x.clone().requires_grad_(true);
    opt_ref.zero_grad();
    opt_sync.zero_grad();
    const auto y_ref = reference->forward(x_ref);
    const auto y_sync = parallel(x_sync);
    torch::mse_loss(y_ref, target).backward();
    torch::mse_loss(y_sync, target).backward();
    // float32 rounding, which differs between the two BatchNorms' kernels (and between CPUs:
    // AVX2 on an AMD EPYC gave 1.04e-5 at step 3), compounds through each SGD step's weights:
    // 1e-5 per step taken.
    const double tol = 1e-5 * (step + 1);
    EXPECT_TENSOR_NEAR(y_sync, y_ref, tol, "output");
    EXPECT_TENSOR_NEAR(x_sync.grad(), x_ref.grad(), tol, "input grad");
    for (const auto& item : ref_params) {
      EXPECT_TENSOR_NEAR(sync_params[item.key()].grad(), item.value().grad(), tol,
                         "grad of " + item.key());
    }
    for (const auto& item : ref_buffers) {
      EXPECT_TENSOR_NEAR(sync_buffers[item.key()], item.value(), tol, item.key());
    }
    opt_ref.step();
    opt_sync.step();
  }
}

INSTANTIATE_TEST_SUITE_P(Copies, ModelEquivalence, ::testing::Values(1, 2, 3, 4, 8));

TEST(ConvertModel, KeepsTensorsAndNamesLayers) {
  // A C++ Sequential cannot hold containers, so the root is a ModuleList.
  torch::nn::Sequential inner(torch::nn::Linear(3, 3), torch::nn::BatchNorm1d(3));
  torch::nn::ModuleDict dict(torch::OrderedDict<std::string, std::shared_ptr<torch::nn::Module>>{
      {"bn", torch::nn::BatchNorm2d(2).ptr()}});
  torch::nn::ModuleList model(inner, dict, torch::nn::BatchNorm3d(2));
  auto old_bn = std::dynamic_pointer_cast<torch::nn::BatchNorm1dImpl>(inner->ptr(1));
  {
    torch::NoGradGuard no_grad;
    old_bn->weight.fill_(2);
    old_bn->running_mean.fill_(0.5);
    old_bn->num_batches_tracked.fill_(7);
  }
  torch::optim::SGD optimizer(model->parameters(), 0.1);  // made before the conversion
  nn::convert_model(model.ptr());

  auto sync1 = std::dynamic_pointer_cast<nn::SynchronizedBatchNorm1dImpl>(inner->ptr(1));
  ASSERT_TRUE(sync1) << "converted in place inside the nested Sequential";
  EXPECT_TRUE(sync1->weight.is_same(old_bn->weight)) << "the very same parameter";
  EXPECT_EQ(sync1->running_mean[0].item<float>(), 0.5f);
  EXPECT_EQ(sync1->num_batches_tracked.item<int64_t>(), 7);
  EXPECT_EQ(sync1->layer_name(), "0.1");
  EXPECT_TRUE(std::dynamic_pointer_cast<nn::SynchronizedBatchNorm3dImpl>(model->ptr(2)));
  EXPECT_TRUE(std::dynamic_pointer_cast<nn::SynchronizedBatchNorm2dImpl>(dict["bn"]));
  EXPECT_TRUE(
      std::dynamic_pointer_cast<nn::SynchronizedBatchNorm2dImpl>(model->named_modules()["1.bn"]));
  // The Sequential's forward now runs the synchronized layer, and buffers are shared.
  inner->forward(torch::randn({4, 3}));  // Linear, then the SyncBN1d
  EXPECT_EQ(old_bn->num_batches_tracked.item<int64_t>(), 8);
  const auto param_count = model->parameters().size();
  EXPECT_EQ(optimizer.param_groups()[0].params().size(), param_count);
  EXPECT_TRUE(optimizer.param_groups()[0].params()[2].is_same(sync1->weight))
      << "the optimizer made before the conversion holds the converted layer's weight";
  // The root itself may be a BatchNorm: a new layer is returned.
  auto root = nn::convert_model(torch::nn::BatchNorm2d(5).ptr());
  EXPECT_TRUE(std::dynamic_pointer_cast<nn::SynchronizedBatchNorm2dImpl>(root));
}

namespace {
struct HoldsBatchNormImpl : torch::nn::Cloneable<HoldsBatchNormImpl> {
  HoldsBatchNormImpl() { reset(); }
  void reset() override { bn = register_module("bn", torch::nn::BatchNorm2d(3)); }
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(HoldsBatchNorm);
}  // namespace

TEST(ConvertModel, TypedMemberIsRefusedAndNothingChanges) {
  torch::nn::ModuleList model(torch::nn::BatchNorm1d(2), HoldsBatchNorm());
  replicascope::testing::expect_throw_containing<std::invalid_argument>(
      [&] { nn::convert_model(model.ptr()); }, "'1.bn'");
  EXPECT_TRUE(std::dynamic_pointer_cast<torch::nn::BatchNorm1dImpl>(model->ptr(0)))
      << "a refused conversion changes nothing";
}

TEST(Faults, EveryCopyGetsTheErrorAndTheNextStepSucceeds) {
  constexpr int kCopies = 4, kPoints = 3;
  sync::set_default_timeout(std::chrono::seconds(60));
  auto plan = std::make_shared<FaultPlan>();
  torch::nn::Sequential model(Fault(plan, 0), nn::SynchronizedBatchNorm1d(4), Fault(plan, 1),
                              nn::SynchronizedBatchNorm1d(4), Fault(plan, 2),
                              nn::SynchronizedBatchNorm1d(4));
  nn::name_sync_layers(*model);
  DataParallelWithCallback<torch::nn::SequentialImpl> parallel(model.ptr(), cpu_copies(kCopies));
  const char* layers[] = {"1", "3", "5"};
  for (int k = 0; k < kCopies; ++k) {
    for (int j = 0; j < kPoints; ++j) {
      SCOPED_TRACE("copy " + std::to_string(k) + " fails before sync point " + std::to_string(j));
      *plan = {k, j};
      const auto start = std::chrono::steady_clock::now();
      try {
        parallel(torch::randn({8, 4}));
        ADD_FAILURE() << "expected the step to fail";
      } catch (const CopiesFailed& e) {
        // Delivered within a second, not waited out (the timeout is 60 s).
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
        ASSERT_EQ(e.errors().size(), static_cast<size_t>(kCopies));
        EXPECT_NE(describe(e.root_cause()).find("injected fault on copy " + std::to_string(k)),
                  std::string::npos);
        for (int i = 0; i < kCopies; ++i) {
          ASSERT_TRUE(e.errors()[i]) << "copy " << i << " got no error";
          if (i == k) continue;
          try {
            std::rethrow_exception(e.errors()[i]);
          } catch (const sync::SyncError& s) {
            SCOPED_TRACE(std::string("copy ") + std::to_string(i) + ": " + s.what());
            EXPECT_EQ(s.layer(), layers[j]);
            EXPECT_EQ(s.copy_id(), k);
            EXPECT_EQ(s.sequence(), 0);
          } catch (const std::exception& other) {
            ADD_FAILURE() << "copy " << i << ": expected a SyncError, got " << other.what();
          }
        }
      }
      *plan = {};
      const auto y = parallel(torch::randn({8, 4}));
      EXPECT_EQ(y.sizes(), (std::vector<int64_t>{8, 4}));
    }
  }
}

TEST(Faults, SameReplicasWorkAfterAFailedStep) {
  auto plan = std::make_shared<FaultPlan>();
  torch::nn::Sequential model(Fault(plan, 0), nn::SynchronizedBatchNorm1d(3));
  auto replicas = replicate(model.ptr(), cpu_copies(3));
  const auto inputs = torch::randn({3, 4, 3}).unbind(0);
  *plan = {2, 0};
  EXPECT_THROW(parallel_apply(replicas.copies, inputs, replicas.devices), CopiesFailed);
  *plan = {};
  const auto outputs = parallel_apply(replicas.copies, inputs, replicas.devices);
  const auto whole = torch::cat(outputs);
  const auto x = torch::cat(inputs);
  const auto expected = (x - x.mean(0)) / (x.var(0, false) + 1e-5).sqrt();
  EXPECT_TENSOR_NEAR(whole, expected, 1e-5, "synchronized output after recovery");
}

TEST(Faults, MismatchedCallCountsAreAClearError) {
  sync::set_default_timeout(std::chrono::seconds(60));
  UnevenCalls model;
  DataParallelWithCallback<UnevenCallsImpl> parallel(model.ptr(), cpu_copies(3));
  try {
    parallel(torch::randn({6, 4}));
    ADD_FAILURE() << "expected an error";
  } catch (const CopiesFailed& e) {
    const auto what = describe(e.errors()[1]);
    EXPECT_NE(what.find("layer 'bn'"), std::string::npos) << what;
    EXPECT_NE(what.find("different number of times"), std::string::npos) << what;
  }
}

TEST(Observer, SeesEveryCopyAndTheSynchronizedStatistics) {
  torch::manual_seed(9);
  torch::nn::Sequential model(torch::nn::BatchNorm2d(4));
  nn::convert_model(model.ptr());
  auto observer = std::make_shared<RecordingObserver>();
  nn::set_stats_observer(*model, observer);
  DataParallelWithCallback<torch::nn::SequentialImpl> parallel(
      model.ptr(), DataParallelOptions(cpu_copies(3)).chunk_sizes({2, 5, 1}));
  const auto x = torch::randn({8, 4, 3, 3}) * 3 + 2;
  parallel(x);
  ASSERT_EQ(observer->events.size(), 1u);
  const auto& event = observer->events[0];
  EXPECT_EQ(event.layer, "0");
  EXPECT_TRUE(event.synchronized);
  EXPECT_EQ(event.count, 8 * 9);
  ASSERT_EQ(event.copies.size(), 3u);
  const auto chunks = x.split_with_sizes({2, 5, 1});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(event.copies[i].count, chunks[i].size(0) * 9);
    EXPECT_TENSOR_NEAR(event.copies[i].mean, chunks[i].mean({0, 2, 3}), 1e-5, "local mean");
    EXPECT_TENSOR_NEAR(event.copies[i].var, chunks[i].var({0, 2, 3}, false), 1e-5, "local var");
  }
  EXPECT_TENSOR_NEAR(event.mean, x.mean({0, 2, 3}), 1e-5, "synchronized mean");
  EXPECT_TENSOR_NEAR(event.var, x.var({0, 2, 3}, false), 1e-5, "synchronized var");
  auto bn = std::dynamic_pointer_cast<nn::SynchronizedBatchNorm2dImpl>(model->ptr(0));
  EXPECT_TENSOR_NEAR(event.running_mean, bn->running_mean, 1e-6, "running mean after update");
}
