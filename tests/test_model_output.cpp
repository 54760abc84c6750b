// SPDX-License-Identifier: MIT
// Models whose forward() returns a tuple, named tuple or list: which tensor a session trains on
// (auto, --output N, --output NAME), how that is said (the notice, meta.model_output), the errors
// of a choice that picks nothing, synthetic data's classes following the model, and verify
// comparing every tensor of the result.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "replicascope/engine/input_check.h"
#include "replicascope/engine/session_factory.h"
#include "replicascope/model/model_output.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/store/run_reader.h"
#include "replicascope/verify/verify.h"
#include "test_util.h"

namespace {

using namespace replicascope;
using replicascope::testing::expect_throw_containing;
using replicascope::testing::fixture;

// A tuple of `values` as TorchScript returns one.
c10::IValue tuple(std::vector<c10::IValue> values) {
  return c10::ivalue::Tuple::create(std::move(values));
}

// `model` (a fixture) with --output `output`, after a forward of two samples of `sample`.
std::unique_ptr<ScriptedModel> forwarded(const std::string& model, const std::string& output,
                                         std::vector<int64_t> sample = {16}) {
  auto loaded = ScriptedModel::load(fixture(model), ScriptedModelOptions().output(output));
  loaded->train(false);
  sample.insert(sample.begin(), 2);
  loaded->forward(torch::randn(sample));
  return loaded;
}

// The message `model` with --output `output` throws at its first forward.
template <class E>
void expect_forward_error(const std::string& model, const std::string& output,
                          const std::string& message) {
  expect_throw_containing<E>([&] { forwarded(model, output); },
                             "model '" + fixture(model) + "': " + message);
}

TEST(ModelOutput, AutoTakesATensorOrTheFirstScoresOfATuple) {
  const auto scores = torch::zeros({2, 5}), features = torch::zeros({2, 3, 4});
  auto tensor = select_output(scores, "auto", 2, "m.pt");
  EXPECT_TRUE(tensor.tensor.is_same(scores));
  EXPECT_FALSE(tensor.choice.from_tuple());
  EXPECT_EQ(tensor.choice.description(), "tensor");
  EXPECT_EQ(tensor.choice.notice(), "");
  const auto chosen = select_output(tuple({features, scores}), "", 2, "m.pt");
  EXPECT_TRUE(chosen.tensor.is_same(scores));
  EXPECT_EQ(chosen.choice.description(), "element 1 of a tuple of 2 elements");
  EXPECT_EQ(chosen.choice.notice(),
            "model: forward() returns a tuple of 2 elements; training on element 1 [2, 5] "
            "(--output picks another)");
  // A list too; a [batch, K] of another batch size is no score per sample.
  const c10::List<at::Tensor> list({torch::zeros({3, 5}), scores});
  EXPECT_EQ(select_output(list, "auto", 2, "m.pt").choice.description(),
            "element 1 of a list of 2 elements");
  expect_throw_containing<std::invalid_argument>(
      [&] { select_output(c10::IValue(3), "auto", 2, "m.pt"); },
      "model 'm.pt': expected forward() to return a Tensor, or a tuple or list holding one, got "
      "a Int");
}

TEST(ModelOutput, ANamedTupleIsChosenFromByNumberOrName) {
  SKIP_IN_SANITIZED_BUILD("the scripted fixtures (make_fixtures)");
  auto model = forwarded("named_output.pt", "auto");
  EXPECT_EQ(model->output_choice().description(), "element 0 'logits' of Outputs");
  EXPECT_EQ(model->output_choice().notice(),
            "model: forward() returns Outputs; training on element 0 'logits' [2, 5] (--output "
            "picks another)");
  for (const char* aux : {"1", "aux"}) {
    model = forwarded("named_output.pt", aux);
    EXPECT_EQ(model->output_choice().description(), "element 1 'aux' of Outputs") << aux;
    EXPECT_EQ(model->output_choice().sizes, (std::vector<int64_t>{2, 3})) << aux;
  }
  // The first element is [batch, 3, 4]: auto takes the second.
  model = forwarded("features_first.pt", "");
  EXPECT_EQ(model->output_choice().description(), "element 1 of a tuple of 2 elements");
  // torchvision's own: GoogLeNetOutputs(logits, None, None).
  model = forwarded("googlenet.pt", "logits", {3, 64, 64});
  EXPECT_EQ(model->output_choice().description(), "element 0 'logits' of GoogLeNetOutputs");
  EXPECT_EQ(model->output_choice().sizes, (std::vector<int64_t>{2, 10}));
}

TEST(ModelOutput, AChoiceThatPicksNothingSaysWhatThereIs) {
  SKIP_IN_SANITIZED_BUILD("the scripted fixtures (make_fixtures)");
  expect_throw_containing<OutputChoiceError>(
      [] {
        forwarded("googlenet.pt", "3", {3, 64, 64});
      },
      "model '" + fixture("googlenet.pt") +
          "': --output 3: forward() returns a tuple of 3 elements (GoogLeNetOutputs: logits, "
          "aux_logits2, aux_logits1); expected a number from 0 to 2");
  expect_forward_error<OutputChoiceError>(
      "named_output.pt", "nosuchname",
      "--output nosuchname: Outputs has no field 'nosuchname'; expected logits or aux (or a "
      "number from 0 to 1)");
  expect_forward_error<OutputChoiceError>(
      "features_first.pt", "logits",
      "--output logits: forward() returns a tuple of 2 elements, whose elements have no names; "
      "expected a number from 0 to 1");
  expect_forward_error<OutputChoiceError>(
      "no_scores.pt", "1",
      "--output 1: element 1 of a tuple of 2 elements is None, not a tensor; expected an element "
      "that is a tensor");
  expect_forward_error<OutputChoiceError>(
      "mlp.pt", "0", "--output 0: forward() returns a tensor, not a tuple; expected no --output");
  expect_forward_error<std::invalid_argument>(
      "no_scores.pt", "auto",
      "forward() returns a tuple of 2 elements: no element of the tuple is a [batch, outputs] "
      "tensor (batch 2): element 0 is [2, 3, 4], element 1 is None");
  for (const char* bad : {"-1", "", "1.5", "a b", "2x"}) {
    expect_throw_containing<UsageError>(
        [&] { check_output_choice(bad); },
        std::string("--output expects auto, an element's number (0, 1, ...) or a field's name "
                    "(logits), got '") +
            bad + "'");
  }
}

TEST(ModelOutput, JoinedOutputsNameEveryTensorWithARowPerSample) {
  const auto nested = tuple({torch::ones({2, 3}), tuple({torch::zeros({2, 2, 2}), c10::IValue()}),
                             torch::ones({5}), c10::IValue(7)});
  const auto joined = join_outputs(nested, 2, "m.pt");
  EXPECT_EQ(joined.tensor.sizes(), (std::vector<int64_t>{2, 7}));
  ASSERT_EQ(joined.choice.parts.size(), 2u);
  EXPECT_EQ(joined.choice.parts[0].name, "element 0");
  EXPECT_EQ(joined.choice.parts[1].name, "element 1.0");
  EXPECT_EQ(joined.choice.parts[1].sizes, (std::vector<int64_t>{2, 2, 2}));
  expect_throw_containing<std::invalid_argument>(
      [] {
        join_outputs(tuple({torch::ones({5}), c10::IValue()}), 2, "m.pt");
      },
      "forward() returns a tuple of 2 elements: none of its tensors has a row per sample");
}

engine::SessionSpec synthetic_spec(const std::string& model) {
  engine::SessionSpec spec;
  spec.model = fixture(model);
  spec.data = "synthetic";
  spec.image = {16};
  spec.devices = "cpu:2";
  spec.batch = 4;
  return spec;
}

TEST(ModelOutput, ASessionTrainsOnTheChosenElementAndRecordsWhichOne) {
  SKIP_IN_SANITIZED_BUILD("the scripted fixtures (make_fixtures)");
  const auto dir = replicascope::testing::temp_dir("rs_model_output");
  auto spec = synthetic_spec("named_output.pt");
  spec.run = (dir / "named.sqlite").string();
  auto built = engine::make_session(spec);
  EXPECT_EQ(built.output.description(), "element 0 'logits' of Outputs");
  EXPECT_EQ(built.session->dataset().classes(), 5);  // synthetic classes follow the model
  built.run->append(built.session->step());
  EXPECT_EQ(store::RunReader(spec.run).metadata().at("model_output"),
            "element 0 'logits' of Outputs");
  spec.output = "aux";
  spec.run = (dir / "aux.sqlite").string();
  built = engine::make_session(spec);
  EXPECT_EQ(built.session->dataset().classes(), 3);
  EXPECT_TRUE(std::isfinite(built.session->step().loss));
  EXPECT_EQ(store::RunReader(spec.run).metadata().at("model_output"), "element 1 'aux' of Outputs");
  // A model that returns a tensor says so.
  spec = synthetic_spec("mlp.pt");
  spec.run = (dir / "mlp.sqlite").string();
  built = engine::make_session(spec);
  EXPECT_EQ(built.session->dataset().classes(), 4);
  EXPECT_EQ(built.output.notice(), "");
  EXPECT_EQ(store::RunReader(spec.run).metadata().at("model_output"), "tensor");
  std::filesystem::remove_all(dir);
}

TEST(ModelOutput, ASessionRefusesWhatNoChoiceOrDataCanTrain) {
  SKIP_IN_SANITIZED_BUILD("the scripted fixtures (make_fixtures)");
  // An explicit --classes past the chosen element's outputs, as before, naming the element.
  auto spec = synthetic_spec("named_output.pt");
  spec.classes = 10;
  expect_throw_containing<engine::ModelDataMismatch>(
      [&] { engine::make_session(spec); },
      "element 0 'logits' of Outputs has 5 outputs; the data 'synthetic' has 10 classes: labels "
      "past the last output cannot be trained. Try --classes 5");
  spec.classes = 0;
  spec.output = "9";
  expect_throw_containing<OutputChoiceError>(
      [&] { engine::make_session(spec); },
      "--output 9: forward() returns a tuple of 2 elements (Outputs: logits, aux); expected a "
      "number from 0 to 1");
  spec = synthetic_spec("no_scores.pt");
  expect_throw_containing<engine::ModelDataMismatch>(
      [&] { engine::make_session(spec); },
      "element 1 is None. No change of data can help: forward() must return a tensor of [batch, "
      "outputs], a score per class, or a tuple or list holding one.");
  spec = synthetic_spec("mlp.pt");
  spec.model.clear();  // the demo CNN
  spec.output = "1";
  expect_throw_containing<UsageError>([&] { engine::make_session(spec); },
                                      "--output 1: the demo CNN returns one tensor");
}

VerifyOptions verify_options(const std::string& output = "auto") {
  VerifyOptions options;
  options.devices = replicascope::testing::cpu_copies(2);
  options.input_shape = {8, 16};
  options.steps = 1;
  options.output = output;
  return options;
}

TEST(ModelOutput, VerifyComparesEveryTensorAndNamesTheOneThatDiffers) {
  SKIP_IN_SANITIZED_BUILD("the scripted fixtures (make_fixtures)");
  auto report = verify(fixture("named_output.pt"), verify_options());
  EXPECT_EQ(report.verdict, Verdict::kEqual) << report.reason;
  EXPECT_EQ(report.output_returns, "Outputs");
  EXPECT_EQ(report.outputs_compared,
            (std::vector<std::string>{"element 0 'logits' [8, 5]", "element 1 'aux' [8, 3]"}));
  EXPECT_EQ(report.trained_output, "element 0 'logits'");
  EXPECT_EQ(report.differences.front().quantity, "outputs");
  EXPECT_EQ(report.differences.front().compared, 2);  // each element its own tensor
  // aux is centred on each copy's own batch: only it differs, and the report says so.
  report = verify(fixture("named_output_batch_aux.pt"), verify_options());
  EXPECT_EQ(report.verdict, Verdict::kDiffers) << report.reason;
  EXPECT_EQ(report.differences.front().worst.rfind("output element 1 'aux' (step 1)", 0), 0u)
      << report.differences.front().worst;
  expect_throw_containing<OutputChoiceError>(
      [] { verify(fixture("named_output.pt"), verify_options("nosuchname")); },
      "Outputs has no field 'nosuchname'");
}

}  // namespace
