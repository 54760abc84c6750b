// SPDX-License-Identifier: MIT
#include "replicascope/engine/input_check.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <string>

#include "input_search.h"
#include "replicascope/base/memory_limits.h"
#include "replicascope/base/usage.h"
#include "replicascope/data/dataset.h"
#include "replicascope/engine/session_spec.h"
#include "replicascope/model/model.h"

namespace replicascope::engine {
namespace {

// "layer1.0.conv1.weight" -> "layer1.0.conv1".
std::string module_of(const std::string& parameter) {
  const auto dot = parameter.rfind('.');
  return dot == std::string::npos ? parameter : parameter.substr(0, dot);
}

const char* layout_of(int64_t spatial_dims) {
  switch (spatial_dims) {
    case 0:
      return "features";
    case 1:
      return "C,L";
    case 2:
      return "C,H,W";
    case 3:
      return "C,T,H,W";
    default:
      return "another layout";
  }
}

}  // namespace

std::vector<int64_t> InputGuess::proposed_image(const std::vector<int64_t>& sample) const {
  if (first_conv.empty()) {
    return in_features > 0 ? std::vector<int64_t>{in_features} : std::vector<int64_t>{};
  }
  std::vector<int64_t> shape{in_channels};
  if (static_cast<int64_t>(sample.size()) == spatial_dims + 1) {
    shape.insert(shape.end(), sample.begin() + 1, sample.end());
    return shape;
  }
  if (spatial_dims == 3) shape.push_back(8);  // frames
  for (int64_t d = 0; d < std::min<int64_t>(spatial_dims, 2); ++d) shape.push_back(32);
  return shape;
}

InputGuess guess_input(const Model& model) {
  // By the modules' types, not the weights' shapes alone: a ConvTranspose or an embedding is not
  // what takes the input. Module order is registration order, which torchvision's models and
  // most others keep in the order they run; a classifier with a convolution registered after
  // it (a conv head, an SE block's Linear) is not trusted for the class count.
  std::map<std::string, std::string> types;
  for (const auto& m : model.modules()) types[m.name] = m.type;
  const auto is_conv = [](const std::string& type) {
    return type == "Conv1d" || type == "Conv2d" || type == "Conv3d";
  };
  InputGuess guess;
  bool conv_after_classifier = false;
  for (const auto& [name, weight] : model.named_parameters()) {
    if (name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0) continue;
    const auto module = module_of(name);
    const auto type = types.count(module) ? types[module] : std::string();
    const auto dims = weight.dim();
    if (is_conv(type) && dims >= 3 && dims <= 5) {
      if (guess.first_conv.empty()) {
        guess.first_conv = module;
        guess.in_channels = weight.size(1);
        guess.spatial_dims = dims - 2;
      }
      if (!guess.classifier.empty()) conv_after_classifier = true;
    }
    if (type == "Linear" && dims == 2) {
      if (guess.first_linear.empty()) {
        guess.first_linear = module;
        guess.in_features = weight.size(1);
      }
      guess.classifier = module;
      guess.classes = weight.size(0);
      conv_after_classifier = false;
    }
  }
  if (conv_after_classifier) guess.classes = 0, guess.classifier.clear();
  return guess;
}

namespace {

bool is_synthetic(const data::Dataset& data) {
  return !data.reads_files() && data.name() == "synthetic";
}

// What would fit instead of `data`: an image folder's images are converted and scaled to any
// C,H,W, so for one only --image changes; synthetic data takes any shape and class count.
DataProposal proposal_for(const data::Dataset& data, const std::vector<int64_t>& image,
                          int64_t classes) {
  DataProposal proposal;
  if (!image.empty()) {
    proposal.image = image;
    if (!(data.reads_files() && image.size() == 3)) proposal.data = "synthetic";
  }
  if (classes > 0) {
    proposal.classes = classes;
    if (!is_synthetic(data)) proposal.data = "synthetic";
  }
  return proposal;
}

// The sentence's ending: the flags that were checked to fit, or why no change of data helps.
std::string fix_text(const DataProposal& proposal, const detail::ShapeSearch& search) {
  const auto flags = proposal.flags();
  if (!flags.empty()) return ". Try " + flags + ", or data of that layout.";
  if (!search.hopeless.empty()) return ". No change of data can help: " + search.hopeless + ".";
  if (search.tried.empty()) return ".";
  std::string shapes;
  for (const auto& shape : search.tried) {
    shapes += (shapes.empty() ? "" : ", ") + join_sizes(shape, "x");
  }
  return ". No change of data was found that helps: the model fails on samples of " + shapes +
         " as well (on " + join_sizes(search.tried.front(), "x") + ": " + search.first_problem +
         ").";
}

[[noreturn]] void fail(const std::string& message, DataProposal offer) {
  throw ModelDataMismatch(message, std::move(offer));
}

// Why the data's samples cannot go into the model's first convolution (other dimensions or
// channels); "" when they can.
std::string first_conv_problem(const InputGuess& guess, const data::Dataset& data,
                               const std::vector<int64_t>& sample, const std::string& samples) {
  const int64_t data_dims = static_cast<int64_t>(sample.size()) - 1;
  if (data_dims != guess.spatial_dims) {
    return guess.first_conv + " is a " + std::to_string(guess.spatial_dims) +
           "-D convolution and expects samples of " + layout_of(guess.spatial_dims) +
           "; the data '" + data.name() + "' has " + samples + " (" + layout_of(data_dims) + ")";
  }
  // A grouped first convolution takes a multiple of its weight's channels.
  const int64_t channels = sample.front();
  if (channels % guess.in_channels != 0) {
    return guess.first_conv + " expects " + std::to_string(guess.in_channels) +
           " input channels; the data '" + data.name() + "' has " + std::to_string(channels) +
           " (" + samples + ")";
  }
  return "";
}

// Why the model cannot take the data's first `count` samples (the forward, in eval mode, fails,
// or its output is not [count, outputs]); "" when it can. `outputs` gets its outputs per sample,
// and `kept_bytes` what the forward keeps for a backward.
std::string forward_samples_problem(Model& model, const data::Dataset& data, int64_t count,
                                    const std::string& samples, int64_t& outputs,
                                    int64_t& kept_bytes) {
  // Read first: an image that cannot be read is that, not the model's failure.
  const auto input = data.get(torch::arange(count, torch::kLong)).images;
  std::string problem;
  {
    // With a graph: what it keeps while the output holds it is what a training step keeps. The
    // output goes while the meter lives, so that the allocator forgets what it noted.
    CpuAllocationMeter meter;
    torch::Tensor output;
    problem = detail::forward_problem(model, input, &output, /*record_graph=*/true);
    kept_bytes = meter.held_bytes();
    outputs = problem.empty() ? output.size(1) : 0;
  }
  if (problem.empty()) return "";
  if (problem.rfind("its output is ", 0) == 0) {
    return "the model's output for " + std::to_string(count) + " " + samples + " is " +
           problem.substr(14);
  }
  return "the model's forward fails on " + std::to_string(count) + " " + samples +
         " from the data '" + data.name() + "': " + problem;
}

// The output for the data's samples must have an output for every class of the data. Named by
// the element of forward()'s tuple it is, or the last Linear.
void check_classes(int64_t outputs, const Model& model, const InputGuess& guess,
                   const data::Dataset& data) {
  if (outputs >= data.classes()) return;
  const auto choice = model.output_choice();
  const auto layer = choice.from_tuple()        ? choice.description()
                     : guess.classifier.empty() ? std::string("the model")
                                                : guess.classifier;
  const auto fewer = proposal_for(data, {}, outputs);
  fail(layer + " has " + std::to_string(outputs) + " outputs; the data '" + data.name() + "' has " +
           std::to_string(data.classes()) +
           " classes: labels past the last output cannot be trained. Try " + fewer.flags(),
       fewer);
}

}  // namespace

std::string DataProposal::flags() const {
  std::string out;
  const auto add = [&out](const std::string& flag) { out += (out.empty() ? "" : " ") + flag; };
  if (!data.empty()) add("--data " + data);
  if (!image.empty()) add("--image " + join_sizes(image, ","));
  if (classes > 0) add("--classes " + std::to_string(classes));
  return out;
}

int64_t model_outputs(Model& model, const std::vector<int64_t>& sample) {
  std::vector<int64_t> shape{2};
  shape.insert(shape.end(), sample.begin(), sample.end());
  torch::Tensor output;
  const auto input = torch::randn(shape, at::detail::createCPUGenerator(0));
  return detail::forward_problem(model, input, &output).empty() ? output.size(1) : 0;
}

void apply_proposal(SessionSpec& spec, const DataProposal& proposal) {
  if (!proposal.data.empty()) spec.data = proposal.data;
  if (!proposal.image.empty()) spec.image = proposal.image;
  if (proposal.classes > 0) spec.classes = proposal.classes;
}

ForwardMemory check_model_fits_data(Model& model, const data::Dataset& data) {
  const auto guess = guess_input(model);
  const auto sample = data.sample_shape();
  const auto samples = "samples of " + join_sizes(sample, "x");
  // What the parameters cannot tell (a Linear after a flatten, a reshape in forward) one
  // forward of two samples does: two, as a BatchNorm1d of [1, C] cannot train on one. In eval
  // mode, so that nothing (running statistics, a synchronization) changes.
  ForwardMemory memory;
  memory.samples = std::min<int64_t>(2, data.size());
  int64_t outputs = 0;
  auto problem = guess.first_conv.empty() ? "" : first_conv_problem(guess, data, sample, samples);
  if (problem.empty()) {
    problem =
        forward_samples_problem(model, data, memory.samples, samples, outputs, memory.kept_bytes);
  }
  if (!problem.empty()) {
    // Only what a forward was seen to take is proposed.
    const auto search = detail::search_fitting_shape(model, guess, sample, problem);
    const bool fewer = search.outputs > 0 && search.outputs < data.classes() && is_synthetic(data);
    const auto proposal = proposal_for(data, search.fits, fewer ? search.outputs : 0);
    fail(problem + fix_text(proposal, search), proposal);
  }
  check_classes(outputs, model, guess, data);
  return memory;
}

}  // namespace replicascope::engine
