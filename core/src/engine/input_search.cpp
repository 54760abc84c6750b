// SPDX-License-Identifier: MIT
#include "input_search.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>

#include "replicascope/base/describe_error.h"
#include "replicascope/model/model.h"

namespace replicascope::engine::detail {
namespace {

using Shape = std::vector<int64_t>;

// The numbers of "(2x1024 and 784x64)" or "(1 x 1)" that follow `label` in `text`; empty when
// `label` is not there.
std::vector<int64_t> numbers_after(const std::string& text, const std::string& label) {
  auto at = text.find(label);
  if (at == std::string::npos) return {};
  at += label.size();
  const auto end = text.find(')', at);
  if (at >= text.size() || text[at] != '(' || end == std::string::npos) return {};
  std::vector<int64_t> numbers;
  for (const char* p = text.c_str() + at + 1; p < text.c_str() + end;) {
    char* next = nullptr;
    const long long value = std::strtoll(p, &next, 10);
    if (next == p) {
      ++p;  // a separator: "x", " x ", " and "
    } else {
      numbers.push_back(value);
      p = next;
    }
  }
  return numbers;
}

// `shape` with its spatial size `dim` (1-based from the last) multiplied by `factor`.
void grow(Shape& shape, size_t dim, double factor) {
  auto& size = shape[shape.size() - dim];
  size = std::max<int64_t>(1, std::llround(static_cast<double>(size) * factor));
}

// Larger sizes where a pooling or a kernel found the input too small: each spatial size whose
// output came out empty, or that is smaller than the kernel, by what the error's sizes say it
// lacks (at least twice).
Shape larger_where_too_small(const Shape& from, const std::string& problem, size_t spatial) {
  auto shape = from;
  const auto in = numbers_after(problem, "Given input size: ");
  const auto out = numbers_after(problem, "Calculated output size: ");
  // A convolution's "Calculated padded input size per channel: (1 x 1). Kernel size: (3 x 3)";
  // a pooling's "input image (T: 2 H: 32 W: 32) smaller than kernel size (kT: 4 kH: 8 kW: 8)".
  auto padded = numbers_after(problem, "Calculated padded input size per channel: ");
  auto kernel = numbers_after(problem, "Kernel size: ");
  if (padded.empty()) {
    padded = numbers_after(problem, "input image ");
    kernel = numbers_after(problem, "smaller than kernel size ");
  }
  if (!in.empty() && in.size() == out.size()) {
    // [channels, sizes...]: an output size of 0 or less needs an input of at least in - out + 1.
    for (size_t d = 1; d <= std::min(spatial, in.size() - 1); ++d) {
      const double have = static_cast<double>(std::max<int64_t>(1, in[in.size() - d]));
      const double need = have - static_cast<double>(out[out.size() - d]) + 1;
      if (out[out.size() - d] <= 0) grow(shape, d, std::max(2.0, std::ceil(need / have)));
    }
  } else if (!padded.empty() && padded.size() == kernel.size()) {
    for (size_t d = 1; d <= std::min(spatial, padded.size()); ++d) {
      const double have = static_cast<double>(std::max<int64_t>(1, padded[padded.size() - d]));
      const double need = static_cast<double>(kernel[kernel.size() - d]);
      if (need > have) grow(shape, d, std::max(2.0, std::ceil(need / have)));
    }
  } else if (problem.find("too small") != std::string::npos) {
    for (size_t d = 1; d <= spatial; ++d) grow(shape, d, 2);
  }
  return shape;
}

// Shapes that `problem`, what samples of `from` gave, points at. Only for a model whose first
// layer is a convolution: a model of features takes the one shape its first Linear says.
std::vector<Shape> shapes_pointed_at(const Shape& from, const std::string& problem,
                                     const InputGuess& guess) {
  std::vector<Shape> out;
  if (from.empty() || guess.first_conv.empty()) return out;
  const size_t spatial = from.size() - 1;
  if (static_cast<int64_t>(spatial) != guess.spatial_dims) return out;
  // "expected input[2, 1, 28, 28] to have 3 channels": a grouped first convolution's count.
  const auto have = problem.find(" to have ");
  if (have != std::string::npos) {
    char* end = nullptr;
    auto shape = from;
    shape[0] = std::strtoll(problem.c_str() + have + 9, &end, 10);
    if (shape[0] > 0 && std::string(end).rfind(" channels", 0) == 0) out.push_back(shape);
  }
  out.push_back(larger_where_too_small(from, problem, spatial));
  // A Linear after a flatten: "mat1 and mat2 shapes cannot be multiplied (2x1024 and 784x64)"
  // says it takes 784 of the 1024 features per sample; the last one or two sizes scale by that.
  const auto mat = numbers_after(problem, "cannot be multiplied ");
  if (mat.size() == 4 && mat[1] > 0 && mat[2] > 0) {
    auto shape = from;
    const size_t scaled = std::min<size_t>(spatial, 2);
    const double ratio = static_cast<double>(mat[2]) / static_cast<double>(mat[1]);
    for (size_t d = 1; d <= scaled; ++d) grow(shape, d, std::pow(ratio, 1.0 / scaled));
    out.push_back(shape);
  }
  return out;
}

// Sizes models are commonly trained at, in the layout the first convolution takes.
std::vector<Shape> common_shapes(const InputGuess& guess) {
  const auto c = guess.in_channels;
  switch (guess.spatial_dims) {
    case 1:
      return {{c, 256}};
    case 2:
      return {{c, 32, 32}, {c, 224, 224}};
    case 3:
      return {{c, 8, 32, 32}, {c, 16, 112, 112}};
    default:
      return {};
  }
}

// Small enough for a forward of 2 samples to stay cheap: at most 4096 a size, 50M values.
bool worth_a_forward(const Shape& shape) {
  double values = 1;
  for (const auto size : shape) {
    if (size < 1 || size > 4096) return false;
    values *= static_cast<double>(size);
  }
  return !shape.empty() && values <= 50e6;
}

}  // namespace

std::string forward_problem(Model& model, torch::Tensor input, torch::Tensor* output,
                            bool record_graph) {
  const bool was_training = model.is_training();
  const int64_t count = input.size(0);
  torch::Tensor out;
  std::string problem;
  try {
    torch::AutoGradMode grad_mode(record_graph);
    model.train(false);
    const auto parameters = model.named_parameters();
    if (!parameters.empty()) input = input.to(parameters.front().second.device());
    out = model.forward(input);
  } catch (const OutputChoiceError&) {
    model.train(was_training);
    throw;  // an --output that picks nothing: no data changes that
  } catch (...) {
    // describe() condenses TorchScript's tracebacks; on one line of at most 300 characters.
    problem = describe(std::current_exception());
    std::replace(problem.begin(), problem.end(), '\n', ' ');
    problem.erase(problem.find_last_not_of(' ') + 1);
    if (problem.size() > 300) problem = problem.substr(0, 297) + "...";
  }
  model.train(was_training);
  if (output) *output = out;
  if (problem.empty() && (out.dim() != 2 || out.size(0) != count)) {
    const auto choice = model.output_choice();
    problem = "its output is [" + join_sizes(out.sizes().vec(), ", ") + "]" +
              (choice.from_tuple() ? " (" + choice.description() + ")" : "") + "; expected [" +
              std::to_string(count) + ", outputs], one score per class";
  }
  return problem;
}

ShapeSearch search_fitting_shape(Model& model, const InputGuess& guess, const Shape& failed,
                                 const std::string& problem, int max_forwards) {
  ShapeSearch search;
  if (is_unusable_output(problem)) {
    search.hopeless =
        "forward() must return a tensor of [batch, outputs], a score per class, or a tuple or "
        "list holding one";
    return search;
  }
  const auto first = guess.proposed_image(failed);
  std::deque<Shape> queue{first};
  for (const auto& shape : shapes_pointed_at(failed, problem, guess)) queue.push_back(shape);
  for (const auto& shape : common_shapes(guess)) queue.push_back(shape);
  auto generator = at::detail::createCPUGenerator(0);
  for (int forwards = 0; !queue.empty() && forwards < max_forwards;) {
    const auto shape = queue.front();
    queue.pop_front();
    if (!worth_a_forward(shape) || shape == failed ||
        std::find(search.tried.begin(), search.tried.end(), shape) != search.tried.end()) {
      continue;
    }
    Shape batch{2};
    batch.insert(batch.end(), shape.begin(), shape.end());
    torch::Tensor output;
    const auto why = forward_problem(model, torch::randn(batch, generator), &output);
    ++forwards;
    if (why.empty()) {
      search.fits = shape;
      search.outputs = output.size(1);
      return search;
    }
    search.tried.push_back(shape);
    if (search.first_problem.empty()) search.first_problem = why;
    // What this failure points at comes first: it knows more than the common sizes.
    const auto pointed = shapes_pointed_at(shape, why, guess);
    queue.insert(queue.begin(), pointed.begin(), pointed.end());
  }
  if (search.tried.empty() && first == failed) {
    search.hopeless = "the data's samples (" + join_sizes(failed, "x") +
                      ") are already of the shape the model's first layer takes";
  }
  return search;
}

}  // namespace replicascope::engine::detail
