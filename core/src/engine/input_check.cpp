#include "replicascope/engine/input_check.h"

#include <map>
#include <string>

#include "replicascope/data/dataset.h"
#include "replicascope/model/model.h"
#include "replicascope/usage.h"

namespace replicascope::engine {
namespace {

// "layer1.0.conv1.weight" -> "layer1.0.conv1".
std::string module_of(const std::string& parameter) {
  const auto dot = parameter.rfind('.');
  return dot == std::string::npos ? parameter : parameter.substr(0, dot);
}

std::string join(const std::vector<int64_t>& sizes, const char* separator) {
  std::string out;
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? separator : "") + std::to_string(sizes[i]);
  return out;
}

const char* layout_of(int64_t spatial_dims) {
  switch (spatial_dims) {
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
  if (first_conv.empty()) return {};
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
      guess.classifier = module;
      guess.classes = weight.size(0);
      conv_after_classifier = false;
    }
  }
  if (conv_after_classifier) guess.classes = 0, guess.classifier.clear();
  return guess;
}

void check_model_fits_data(const Model& model, const data::Dataset& data) {
  const auto guess = guess_input(model);
  const auto sample = data.sample_shape();
  const auto proposal = guess.proposed_image();
  const auto samples = "samples of " + join(sample, "x");
  const auto fix = proposal.empty() ? std::string(".")
                                    : ". Try --data synthetic --image " + join(proposal, ",") +
                                          ", or data of that layout.";
  if (!guess.first_conv.empty()) {
    const int64_t data_dims = static_cast<int64_t>(sample.size()) - 1;
    if (data_dims != guess.spatial_dims) {
      throw UsageError(guess.first_conv + " is a " + std::to_string(guess.spatial_dims) +
                       "-D convolution and expects samples of " + layout_of(guess.spatial_dims) +
                       "; the data '" + data.name() + "' has " + samples + " (" +
                       layout_of(data_dims) + ")" + fix);
    }
    // A grouped first convolution takes a multiple of its weight's channels.
    const int64_t channels = sample.front();
    if (channels % guess.in_channels != 0) {
      throw UsageError(guess.first_conv + " expects " + std::to_string(guess.in_channels) +
                       " input channels; the data '" + data.name() + "' has " +
                       std::to_string(channels) + " (" + samples + ")" + fix);
    }
  }
  if (guess.classes > 0 && guess.classes < data.classes()) {
    throw UsageError(guess.classifier + " has " + std::to_string(guess.classes) +
                     " outputs; the data '" + data.name() + "' has " +
                     std::to_string(data.classes()) +
                     " classes: labels past the last output cannot be trained.");
  }
}

}  // namespace replicascope::engine
