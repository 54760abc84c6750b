// SPDX-License-Identifier: MIT
// Every copy's backward on its own thread (parallel_backward.h): the threads, the gradients
// against the whole batch in float64, bit-identical repeats, faults in backward, long runs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "replicascope/replicascope.h"
#include "test_util.h"

using namespace replicascope;
using replicascope::testing::cpu_copies;
using replicascope::testing::describe;

namespace {

// What a copy's backward saw: the thread it ran on. Throws in backward on one copy when told.
struct BackwardProbe {
  std::mutex mutex;
  std::map<int, std::set<std::thread::id>> threads;  // copy -> threads its hooks ran on
  int fail_copy = -1, fail_point = -1;
  bool stall = false;  // the failing copy sleeps for 2 s instead of throwing
};

// Passes its input through; in backward, notes the thread and may throw.
class ProbeImpl : public torch::nn::Cloneable<ProbeImpl>, public ReplicationCallback {
 public:
  ProbeImpl(std::shared_ptr<BackwardProbe> probe, int point)
      : probe_(std::move(probe)), point_(point) {}
  void reset() override {}
  void data_parallel_replicate(CallbackContext&, int copy_id) override { copy_ = copy_id; }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = x * 1.0;  // a node of this copy's own
    if (y.requires_grad()) {
      y.register_hook([probe = probe_, copy = copy_, point = point_](const torch::Tensor& g) {
        {
          std::lock_guard<std::mutex> lock(probe->mutex);
          probe->threads[copy].insert(std::this_thread::get_id());
        }
        if (probe->fail_copy == copy && probe->fail_point == point) {
          if (probe->stall) {
            std::this_thread::sleep_for(std::chrono::seconds(2));
            return g;
          }
          throw std::runtime_error("injected backward fault on copy " + std::to_string(copy) +
                                   " at point " + std::to_string(point));
        }
        return g;
      });
    }
    return y;
  }

 private:
  std::shared_ptr<BackwardProbe> probe_;
  int point_;
  int copy_ = -1;
};
TORCH_MODULE(Probe);

torch::nn::Sequential make_net(torch::Dtype dtype) {
  using namespace torch::nn;
  Sequential net(Conv2d(Conv2dOptions(3, 6, 3).padding(1)), BatchNorm2d(6), ReLU(),
                 Conv2d(Conv2dOptions(6, 4, 3).padding(1)), BatchNorm2d(4), ReLU(), Flatten(),
                 Linear(4 * 5 * 5, 8), BatchNorm1d(8));
  net->to(dtype);
  return net;
}

struct Grads {
  torch::Tensor input;
  std::vector<torch::Tensor> params;
};

// One training step's gradients of `net` (converted and parallel when `copies` > 0), in float64.
Grads step_grads(int copies, const std::vector<int64_t>& chunks, uint64_t seed) {
  torch::manual_seed(seed);
  auto net = make_net(torch::kDouble);
  const int64_t batch = 10;
  const auto x = torch::randn({batch, 3, 5, 5}, torch::kDouble).requires_grad_(true);
  const auto target = torch::randn({batch, 8}, torch::kDouble);
  torch::Tensor y;
  if (copies == 0) {
    y = net->forward(x);
  } else {
    nn::convert_model(net.ptr());
    DataParallelWithCallback<torch::nn::SequentialImpl> parallel(
        net.ptr(), DataParallelOptions(cpu_copies(copies)).chunk_sizes(chunks));
    y = parallel(x);
  }
  torch::mse_loss(y, target).backward();
  Grads out{x.grad(), {}};
  for (const auto& p : net->parameters()) out.params.push_back(p.grad());
  return out;
}

}  // namespace

TEST(ParallelBackward, EachCopyRunsOnItsOwnThread) {
  auto probe = std::make_shared<BackwardProbe>();
  torch::nn::Sequential model(torch::nn::Linear(4, 4), Probe(probe, 0),
                              nn::SynchronizedBatchNorm1d(4), Probe(probe, 1));
  DataParallelWithCallback<torch::nn::SequentialImpl> parallel(model.ptr(), cpu_copies(4));
  parallel(torch::randn({8, 4})).pow(2).sum().backward();
  ASSERT_EQ(probe->threads.size(), 4u);
  std::set<std::thread::id> all;
  for (const auto& [copy, threads] : probe->threads) {
    EXPECT_EQ(threads.size(), 1u) << "copy " << copy << " ran its backward on several threads";
    all.insert(threads.begin(), threads.end());
  }
  EXPECT_EQ(all.size(), 4u) << "copies shared a backward thread";
}

TEST(ParallelBackward, GradientsEqualTheWholeBatchInFloat64AndRepeatBitForBit) {
  const auto reference = step_grads(0, {}, 5);
  const std::vector<std::pair<int, std::vector<int64_t>>> layouts = {
      {1, {}}, {2, {}}, {3, {}}, {4, {}}, {3, {1, 7, 2}}, {4, {4, 1, 3, 2}}};
  for (const auto& [copies, chunks] : layouts) {
    SCOPED_TRACE(std::to_string(copies) + " copies, chunks " + c10::str(c10::IntArrayRef(chunks)));
    const auto first = step_grads(copies, chunks, 5);
    const auto second = step_grads(copies, chunks, 5);
    EXPECT_TENSOR_NEAR(first.input, reference.input, 1e-12, "input grad");
    ASSERT_EQ(first.params.size(), reference.params.size());
    for (size_t k = 0; k < first.params.size(); ++k) {
      EXPECT_TENSOR_NEAR(first.params[k], reference.params[k], 1e-12,
                         "grad of parameter " + std::to_string(k));
      EXPECT_TRUE(torch::equal(first.params[k], second.params[k]))
          << "parameter " << k << " differs between two runs of the same seed";
    }
    EXPECT_TRUE(torch::equal(first.input, second.input));
  }
}

TEST(ParallelBackward, RetainGraphRunsTheCopiesAgainAndASecondBackwardWithoutItIsRefused) {
  torch::manual_seed(4);
  torch::nn::Sequential model(torch::nn::Linear(3, 4), nn::SynchronizedBatchNorm1d(4));
  DataParallelWithCallback<torch::nn::SequentialImpl> parallel(model.ptr(), cpu_copies(3));
  const auto x = torch::randn({7, 3}).requires_grad_(true);
  const auto loss = parallel(x).pow(3).sum();
  loss.backward({}, /*retain_graph=*/true);
  const auto once = x.grad().clone();
  loss.backward();
  EXPECT_TENSOR_NEAR(x.grad(), once * 2, 1e-6, "input grad after two backwards");
  replicascope::testing::expect_throw_containing<std::exception>([&] { loss.backward(); },
                                                                 "a second time");
}

TEST(ParallelBackward, AFaultInBackwardFailsEveryCopyAtOnceAndTheNextStepWorks) {
  constexpr int kCopies = 4, kPoints = 3;
  sync::set_default_timeout(std::chrono::seconds(60));
  auto probe = std::make_shared<BackwardProbe>();
  // In backward the points come in reverse: point 2 before layer '4', 1 before '2', 0 last.
  torch::nn::Sequential model(Probe(probe, 0), nn::SynchronizedBatchNorm1d(4), Probe(probe, 1),
                              nn::SynchronizedBatchNorm1d(4), Probe(probe, 2),
                              nn::SynchronizedBatchNorm1d(4));
  nn::name_sync_layers(*model);
  DataParallelWithCallback<torch::nn::SequentialImpl> parallel(model.ptr(), cpu_copies(kCopies));
  for (int k = 0; k < kCopies; ++k) {
    for (int j = 0; j < kPoints; ++j) {
      SCOPED_TRACE("copy " + std::to_string(k) + " throws in backward at point " +
                   std::to_string(j));
      probe->fail_copy = k, probe->fail_point = j;
      const auto x = torch::randn({8, 4}).requires_grad_(true);
      const auto loss = parallel(x).pow(3).sum();
      const auto start = std::chrono::steady_clock::now();
      try {
        loss.backward();
        ADD_FAILURE() << "expected the backward to fail";
      } catch (const CopiesFailed& e) {
        // Delivered within a second, not waited out (the timeout is 60 s).
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
        ASSERT_EQ(e.errors().size(), static_cast<size_t>(kCopies));
        EXPECT_NE(
            describe(e.root_cause()).find("injected backward fault on copy " + std::to_string(k)),
            std::string::npos);
        // The others wait at the next layer's backward (point 2: layer '3', point 1: layer
        // '1') and fail there, naming copy k; after point 0 no layer is left to wait at.
        const char* waiting_at[] = {nullptr, "1 (backward)", "3 (backward)"};
        for (int i = 0; i < kCopies; ++i) {
          if (i == k) continue;
          if (!waiting_at[j]) {
            EXPECT_FALSE(e.errors()[i]) << "copy " << i << " failed with nothing to wait for";
            continue;
          }
          try {
            ASSERT_TRUE(e.errors()[i]) << "copy " << i << " got no error";
            std::rethrow_exception(e.errors()[i]);
          } catch (const sync::SyncError& s) {
            EXPECT_EQ(s.layer(), waiting_at[j]) << s.what();
            EXPECT_EQ(s.copy_id(), k) << s.what();
            EXPECT_EQ(s.sequence(), 0) << s.what();
          } catch (const std::exception& other) {
            ADD_FAILURE() << "copy " << i << ": expected a SyncError, got " << other.what();
          }
        }
      }
      probe->fail_copy = -1;
      const auto x2 = torch::randn({8, 4}).requires_grad_(true);
      parallel(x2).pow(3).sum().backward();
      EXPECT_TRUE(x2.grad().defined());
      EXPECT_TRUE(torch::isfinite(x2.grad()).all().item<bool>());
    }
  }
}

TEST(ParallelBackward, ACopyThatNeverArrivesFailsEveryCopyAtTheTimeout) {
  const auto before = sync::default_timeout();
  sync::set_default_timeout(std::chrono::milliseconds(300));
  auto probe = std::make_shared<BackwardProbe>();
  torch::nn::Sequential model(nn::SynchronizedBatchNorm1d(4), Probe(probe, 0),
                              nn::SynchronizedBatchNorm1d(4));
  nn::name_sync_layers(*model);
  DataParallelWithCallback<torch::nn::SequentialImpl> parallel(model.ptr(), cpu_copies(3));
  probe->fail_copy = 1, probe->fail_point = 0, probe->stall = true;
  const auto start = std::chrono::steady_clock::now();
  try {
    parallel(torch::randn({6, 4}).requires_grad_(true)).pow(3).sum().backward();
    ADD_FAILURE() << "expected the backward to time out";
  } catch (const CopiesFailed& e) {
    for (int i : {0, 2}) {
      const auto what = describe(e.errors()[i]);
      EXPECT_NE(what.find("layer '0 (backward)'"), std::string::npos) << what;
      EXPECT_NE(what.find("timed out"), std::string::npos) << what;
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  probe->fail_copy = -1, probe->stall = false;
  const auto x = torch::randn({6, 4}).requires_grad_(true);
  parallel(x).pow(3).sum().backward();
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
  sync::set_default_timeout(before);
}

TEST(ParallelBackward, CopiesOnOneThreadAreAClearErrorNotAHang) {
  sync::set_default_timeout(std::chrono::seconds(60));
  torch::nn::Sequential model(nn::SynchronizedBatchNorm1d(3));
  nn::name_sync_layers(*model);
  auto replicas = replicate(model.ptr(), cpu_copies(2));
  const auto x = torch::randn({2, 4, 3}).requires_grad_(true);
  const auto inputs = x.unbind(0);
  // torch::cat instead of replicascope::gather: one thread would run both copies' backwards.
  const auto y = torch::cat(parallel_apply(replicas.copies, inputs, replicas.devices));
  const auto start = std::chrono::steady_clock::now();
  replicascope::testing::expect_throw_containing<std::exception>(
      [&] { y.pow(3).sum().backward(); }, "needs each copy on its own thread");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(ParallelBackward, TenThousandStepsAtFourCopies) {
  torch::manual_seed(3);
  auto net = torch::nn::Sequential(torch::nn::Linear(6, 8), torch::nn::BatchNorm1d(8),
                                   torch::nn::ReLU(), torch::nn::Linear(8, 2));
  nn::convert_model(net.ptr());
  DataParallelWithCallback<torch::nn::SequentialImpl> parallel(net.ptr(), cpu_copies(4));
  torch::optim::SGD opt(net->parameters(), 0.01);
  int64_t failures = 0;
  double last = 0;
#ifdef REPLICASCOPE_SANITIZED_BUILD
  constexpr int kSteps = 1000;  // AddressSanitizer's copy: memory errors show in fewer steps
#else
  constexpr int kSteps = 10000;
#endif
  for (int step = 0; step < kSteps; ++step) {
    const auto x = torch::randn({8 + step % 5, 6});
    opt.zero_grad();
    try {
      auto loss = parallel(x).pow(2).mean();
      loss.backward();
      last = loss.item<double>();
    } catch (const std::exception& e) {
      if (failures++ == 0) ADD_FAILURE() << "step " << step << ": " << e.what();
    }
    opt.step();
  }
  EXPECT_EQ(failures, 0);
  EXPECT_TRUE(std::isfinite(last));
}

namespace {

// The parameters' gradients of one training step of a scripted fixture, on the whole batch
// (copies 0: PyTorch's own BatchNorm, unconverted) or on copies (synchronized).
std::vector<torch::Tensor> scripted_grads(const std::string& file,
                                          const std::vector<int64_t>& shape, int copies,
                                          const std::vector<int64_t>& chunks) {
  torch::manual_seed(11);
  auto model = ScriptedModel::load(replicascope::testing::fixture(file),
                                   ScriptedModelOptions().convert(copies > 0));
  model->train(true);
  const auto x = torch::randn(shape);
  torch::Tensor out;
  if (copies == 0) {
    out = model->forward(x);
  } else {
    auto replicas = model->replicate(cpu_copies(copies));
    out = data_parallel_forward(*replicas, x, chunks);
  }
  out.pow(2).mean().backward();
  std::vector<torch::Tensor> grads;
  for (const auto& item : model->named_parameters()) grads.push_back(item.second.grad());
  return grads;
}

}  // namespace

TEST(ParallelBackward, ScriptedFixturesMatchTheWholeBatchAndRepeatBitForBit) {
  SKIP_IN_SANITIZED_BUILD("the scripted fixtures (make_fixtures)");
  struct Fixture {
    std::string file;
    std::vector<int64_t> shape;
  };
  const std::vector<Fixture> fixtures = {
      {"mlp.pt", {10, 16}}, {"reused_bn.pt", {10, 3, 5, 5}}, {"resnet18.pt", {10, 3, 32, 32}}};
  const std::vector<std::pair<int, std::vector<int64_t>>> layouts = {
      {1, {}}, {2, {}}, {3, {4, 3, 3}}, {4, {1, 5, 2, 2}}};
  for (const auto& f : fixtures) {
    const auto reference = scripted_grads(f.file, f.shape, 0, {});
    for (const auto& [copies, chunks] : layouts) {
      SCOPED_TRACE(f.file + ", " + std::to_string(copies) + " copies");
      const auto first = scripted_grads(f.file, f.shape, copies, chunks);
      const auto second = scripted_grads(f.file, f.shape, copies, chunks);
      ASSERT_EQ(first.size(), reference.size());
      for (size_t k = 0; k < first.size(); ++k) {
        EXPECT_TENSOR_NEAR(first[k], reference[k], 1e-4, "grad of parameter " + std::to_string(k));
        EXPECT_TRUE(torch::equal(first[k], second[k]))
            << "parameter " << k << " differs between two runs of the same seed";
      }
    }
  }
}
