// SPDX-License-Identifier: MIT
#include "replicascope/model/model_output.h"

#include <ATen/core/jit_type.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <utility>

namespace replicascope {
namespace {

// The phrases is_unusable_output looks for: the messages below say them.
constexpr const char* kNotATensor =
    "expected forward() to return a Tensor, or a tuple or list holding one";
constexpr const char* kNoScores = " is a [batch, outputs] tensor";

std::string sizes_text(at::IntArrayRef sizes) {
  return "[" + join_sizes(sizes.vec(), ", ") + "]";
}

// A value of forward()'s result as messages show it: [2, 10], None, Tuple.
std::string value_text(const c10::IValue& value) {
  if (value.isTensor()) return sizes_text(value.toTensor().sizes());
  return value.isNone() ? "None" : value.tagKind();
}

bool is_number(const std::string& text) {
  return !text.empty() && text.size() <= 9 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool is_name(const std::string& text) {
  const auto word = [](unsigned char c) { return std::isalnum(c) || c == '_'; };
  return !text.empty() && !std::isdigit(static_cast<unsigned char>(text[0])) &&
         std::all_of(text.begin(), text.end(), word);
}

bool is_auto(const std::string& choice) {
  return choice.empty() || choice == "auto";
}

// A tuple's or list's elements, with a named tuple's type and field names.
struct Elements {
  std::string kind;  // "tuple" or "list"
  std::string type;  // "GoogLeNetOutputs"; "" when not a named tuple
  std::vector<c10::IValue> values;
  std::vector<std::string> fields;  // empty when not a named tuple

  std::string counted() const {
    return "a " + kind + " of " + std::to_string(values.size()) +
           (values.size() == 1 ? " element" : " elements");
  }
  // What forward() returns, short: "GoogLeNetOutputs", "a tuple of 2 elements".
  std::string returns() const { return type.empty() ? counted() : type; }
  // And long: "a tuple of 3 elements (GoogLeNetOutputs: logits, aux_logits2, aux_logits1)".
  std::string described() const {
    if (type.empty()) return counted();
    std::string names;
    for (const auto& field : fields) names += (names.empty() ? "" : ", ") + field;
    return counted() + " (" + type + (names.empty() ? "" : ": " + names) + ")";
  }
  // "element 0 'logits'", "element 1"; `path` names a nested one ("1.0").
  std::string element(size_t index, const std::string& path = "") const {
    const auto number = path.empty() ? std::to_string(index) : path;
    return "element " + number + (index < fields.size() ? " '" + fields[index] + "'" : "");
  }
  // The numbers an --output may give: "0 to 2", "0".
  std::string range() const {
    if (values.empty()) return "a result with elements";
    if (values.size() == 1) return "0";
    return "a number from 0 to " + std::to_string(values.size() - 1);
  }
};

// `output`'s elements when it is a tuple or a list.
bool elements_of(const c10::IValue& output, Elements& out) {
  if (output.isTuple()) {
    const auto& tuple = output.toTupleRef();
    out.kind = "tuple";
    out.values.assign(tuple.elements().begin(), tuple.elements().end());
    const auto type = tuple.type();
    if (type->name()) out.type = type->name()->name();
    if (const auto names = type->names()) {
      for (const auto& name : *names) out.fields.emplace_back(name);
    }
    return true;
  }
  if (output.isList()) {
    out.kind = "list";
    out.values = output.toList().vec();
    return true;
  }
  return false;
}

// auto: the first element that is a [batch, K] tensor.
size_t first_scores(const Elements& e, int64_t batch, const std::string& model) {
  std::string seen;
  for (size_t i = 0; i < e.values.size(); ++i) {
    const auto& value = e.values[i];
    if (value.isTensor() && value.toTensor().dim() == 2 && value.toTensor().size(0) == batch) {
      return i;
    }
    seen += (seen.empty() ? ": " : ", ") + e.element(i) + " is " + value_text(value);
  }
  throw std::invalid_argument(model + "forward() returns " + e.described() +
                              ": no element of the " + e.kind + kNoScores + " (batch " +
                              std::to_string(batch) + ")" + seen);
}

// --output N or --output NAME: that element.
size_t chosen_index(const Elements& e, const std::string& choice, const std::string& model) {
  const auto given = model + "--output " + choice + ": ";
  if (is_number(choice)) {
    const auto index = std::stoul(choice);
    if (index < e.values.size()) return index;
    throw OutputChoiceError(given + "forward() returns " + e.described() + "; expected " +
                            e.range());
  }
  if (e.fields.empty()) {
    throw OutputChoiceError(given + "forward() returns " + e.described() +
                            ", whose elements have no names; expected " + e.range());
  }
  const auto field = std::find(e.fields.begin(), e.fields.end(), choice);
  if (field != e.fields.end()) return static_cast<size_t>(field - e.fields.begin());
  std::string names;
  for (size_t i = 0; i < e.fields.size(); ++i) {
    names += (i == 0 ? "" : i + 1 == e.fields.size() ? " or " : ", ") + e.fields[i];
  }
  throw OutputChoiceError(given + e.type + " has no field '" + choice + "'; expected " + names +
                          " (or " + e.range() + ")");
}

// Every tensor of `value` with a row per sample, named as messages name it (`name`; nested
// elements by their path of numbers, `path`: "element 1.0").
void collect(const c10::IValue& value, const std::string& name, const std::string& path,
             int64_t batch, std::vector<std::pair<std::string, torch::Tensor>>& out) {
  if (value.isTensor()) {
    const auto& t = value.toTensor();
    if (t.defined() && t.dim() >= 1 && t.size(0) == batch && t.is_floating_point()) {
      out.emplace_back(name, t);
    }
    return;
  }
  Elements e;
  if (!elements_of(value, e)) return;
  for (size_t i = 0; i < e.values.size(); ++i) {
    const auto inner = path + "." + std::to_string(i);
    collect(e.values[i], e.element(i, inner), inner, batch, out);
  }
}

}  // namespace

std::string OutputChoice::description() const {
  return from_tuple() ? element + " of " + returns : "tensor";
}

std::string OutputChoice::notice() const {
  if (!from_tuple()) return "";
  return "model: forward() returns " + returns + "; training on " + element + " " +
         sizes_text(sizes) + " (--output picks another)";
}

void check_output_choice(const std::string& choice) {
  if (is_number(choice) || is_name(choice)) return;  // auto is a name
  throw OutputChoiceError(
      "--output expects auto, an element's number (0, 1, ...) or a field's name (logits), got '" +
      choice + "'");
}

SelectedOutput select_output(const c10::IValue& output, const std::string& choice, int64_t batch,
                             const std::string& source) {
  if (!is_auto(choice)) check_output_choice(choice);
  const auto model = "model '" + source + "': ";
  if (output.isTensor()) {
    if (!is_auto(choice)) {
      throw OutputChoiceError(model + "--output " + choice +
                              ": forward() returns a tensor, not a tuple; expected no --output");
    }
    return {output.toTensor(), {"", "", output.toTensor().sizes().vec(), {}}};
  }
  Elements e;
  if (!elements_of(output, e)) {
    throw std::invalid_argument(model + kNotATensor + ", got a " + output.tagKind());
  }
  const auto index =
      is_auto(choice) ? first_scores(e, batch, model) : chosen_index(e, choice, model);
  const auto& value = e.values[index];
  if (!value.isTensor()) {
    throw OutputChoiceError(model + "--output " + choice + ": " + e.element(index) + " of " +
                            e.returns() + " is " + value_text(value) +
                            ", not a tensor; expected an element that is a tensor");
  }
  SelectedOutput selected;
  selected.tensor = value.toTensor();
  selected.choice.returns = e.returns();
  selected.choice.element = e.element(index);
  selected.choice.sizes = selected.tensor.sizes().vec();
  return selected;
}

SelectedOutput join_outputs(const c10::IValue& output, int64_t batch, const std::string& source) {
  const auto model = "model '" + source + "': ";
  SelectedOutput joined;
  if (output.isTensor()) {
    joined.tensor = output.toTensor();
    joined.choice.parts = {{"", joined.tensor.sizes().vec()}};
    return joined;
  }
  Elements e;
  if (!elements_of(output, e)) {
    throw std::invalid_argument(model + kNotATensor + ", got a " + output.tagKind());
  }
  std::vector<std::pair<std::string, torch::Tensor>> found;
  for (size_t i = 0; i < e.values.size(); ++i) {
    collect(e.values[i], e.element(i), std::to_string(i), batch, found);
  }
  if (found.empty()) {
    throw std::invalid_argument(model + "forward() returns " + e.described() +
                                ": none of its tensors has a row per sample (batch " +
                                std::to_string(batch) + ")");
  }
  std::vector<torch::Tensor> rows;
  const auto dtype = found.front().second.scalar_type();
  for (const auto& [name, t] : found) {
    joined.choice.parts.push_back({name, t.sizes().vec()});
    rows.push_back((t.dim() == 1 ? t.unsqueeze(1) : t.flatten(1)).to(dtype));
  }
  joined.choice.returns = e.returns();
  joined.tensor = torch::cat(rows, 1);
  return joined;
}

bool is_unusable_output(const std::string& message) {
  return message.find(kNotATensor) != std::string::npos ||
         (message.find(": no element of the ") != std::string::npos &&
          message.find(kNoScores) != std::string::npos);
}

}  // namespace replicascope
