#include "replicascope/engine/input_check.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <string>

#include "replicascope/base/describe_error.h"
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

std::vector<int64_t> InputGuess::proposed_image() const {
  if (first_conv.empty()) {
    return in_features > 0 ? std::vector<int64_t>{in_features} : std::vector<int64_t>{};
  }
  std::vector<int64_t> shape{in_channels};
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
  const auto sample = data.sample_shape();
  if (!image.empty()) {
    const bool folder = data.reads_files() && image.size() == 3 && sample.size() == 3;
    proposal.image = folder ? std::vector<int64_t>{image[0], sample[1], sample[2]} : image;
    if (!folder) proposal.data = "synthetic";
  }
  if (classes > 0) {
    proposal.classes = classes;
    if (!is_synthetic(data)) proposal.data = "synthetic";
  }
  return proposal;
}

// The sentence's ending: the flags that would fit.
std::string fix_text(const DataProposal& proposal) {
  const auto flags = proposal.flags();
  return flags.empty() ? "." : ". Try " + flags + ", or data of that layout.";
}

// What the forward threw (describe() condenses TorchScript's tracebacks), on one line of at most
// 300 characters.
std::string forward_error(const std::exception_ptr& error) {
  auto text = describe(error);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text.size() > 300 ? text.substr(0, 297) + "..." : text;
}

// How a mismatch with the data is told: its samples ("samples of 3x32x32"), and the sentence's
// ending (fix_text) with the proposal it names.
struct MismatchWording {
  DataProposal proposal;
  std::string samples;
  std::string fix;
};

[[noreturn]] void fail(const std::string& message, DataProposal offer) {
  throw ModelDataMismatch(message, std::move(offer));
}

// The data's samples against the first convolution's dimensions and channels.
void check_first_conv(const InputGuess& guess, const data::Dataset& data,
                      const std::vector<int64_t>& sample, const MismatchWording& wording) {
  const int64_t data_dims = static_cast<int64_t>(sample.size()) - 1;
  if (data_dims != guess.spatial_dims) {
    fail(guess.first_conv + " is a " + std::to_string(guess.spatial_dims) +
             "-D convolution and expects samples of " + layout_of(guess.spatial_dims) +
             "; the data '" + data.name() + "' has " + wording.samples + " (" +
             layout_of(data_dims) + ")" + wording.fix,
         wording.proposal);
  }
  // A grouped first convolution takes a multiple of its weight's channels.
  const int64_t channels = sample.front();
  if (channels % guess.in_channels != 0) {
    fail(guess.first_conv + " expects " + std::to_string(guess.in_channels) +
             " input channels; the data '" + data.name() + "' has " + std::to_string(channels) +
             " (" + wording.samples + ")" + wording.fix,
         wording.proposal);
  }
}

// The model's output for the data's first `count` samples, in eval mode, without gradients; its
// training flag is restored after.
torch::Tensor forward_samples(Model& model, const data::Dataset& data, int64_t count,
                              const MismatchWording& wording) {
  // Read first: an image that cannot be read is that, not the model's failure.
  auto input = data.get(torch::arange(count, torch::kLong)).images;
  torch::Tensor output;
  const bool was_training = model.is_training();
  try {
    torch::NoGradGuard no_grad;
    model.train(false);
    const auto parameters = model.named_parameters();
    if (!parameters.empty()) input = input.to(parameters.front().second.device());
    output = model.forward(input);
  } catch (...) {
    const auto error = std::current_exception();
    model.train(was_training);
    fail("the model's forward fails on " + std::to_string(count) + " " + wording.samples +
             " from the data '" + data.name() + "': " + forward_error(error) + wording.fix,
         wording.proposal);
  }
  model.train(was_training);
  return output;
}

// The output for `count` samples must be [count, outputs], an output for every class of the data.
void check_output(const torch::Tensor& output, int64_t count, const InputGuess& guess,
                  const data::Dataset& data, const MismatchWording& wording) {
  const auto outputs = output.dim() == 2 ? output.size(1) : 0;
  if (output.dim() != 2 || output.size(0) != count) {
    std::vector<int64_t> sizes = output.sizes().vec();
    fail("the model's output for " + std::to_string(count) + " " + wording.samples + " is [" +
             join_sizes(sizes, ", ") + "]; expected [" + std::to_string(count) +
             ", outputs], one score per class" + wording.fix,
         wording.proposal);
  }
  if (outputs < data.classes()) {
    const auto layer = guess.classifier.empty() ? std::string("the model") : guess.classifier;
    const auto fewer = proposal_for(data, {}, outputs);
    fail(layer + " has " + std::to_string(outputs) + " outputs; the data '" + data.name() +
             "' has " + std::to_string(data.classes()) +
             " classes: labels past the last output cannot be trained" + fix_text(fewer),
         fewer);
  }
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

void apply_proposal(SessionSpec& spec, const DataProposal& proposal) {
  if (!proposal.data.empty()) spec.data = proposal.data;
  if (!proposal.image.empty()) spec.image = proposal.image;
  if (proposal.classes > 0) spec.classes = proposal.classes;
}

void check_model_fits_data(Model& model, const data::Dataset& data) {
  const auto guess = guess_input(model);
  const auto sample = data.sample_shape();
  // The shape is said first; for synthetic data a class count the classifier cannot train goes
  // along with it (other data keeps its own labels: that mismatch is said once the shape fits).
  const bool fewer_outputs = guess.classes > 0 && guess.classes < data.classes();
  MismatchWording wording;
  wording.proposal = proposal_for(data, guess.proposed_image(),
                                  fewer_outputs && is_synthetic(data) ? guess.classes : 0);
  wording.samples = "samples of " + join_sizes(sample, "x");
  wording.fix = fix_text(wording.proposal);
  if (!guess.first_conv.empty()) check_first_conv(guess, data, sample, wording);
  // What the parameters cannot tell (a Linear after a flatten, a reshape in forward) one
  // forward of two samples does: two, as a BatchNorm1d of [1, C] cannot train on one. In eval
  // mode, without gradients, so that nothing (running statistics, a synchronization) changes.
  const int64_t count = std::min<int64_t>(2, data.size());
  const auto output = forward_samples(model, data, count, wording);
  check_output(output, count, guess, data, wording);
}

}  // namespace replicascope::engine
