// SPDX-License-Identifier: MIT
#include "replicascope/engine/session_spec.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "replicascope/base/memory_limits.h"
#include "replicascope/data/dataset.h"
#include "replicascope/data/image_folder.h"
#include "replicascope/model/model_output.h"

namespace replicascope::engine {
namespace {

std::string number_text(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

// A choice among names: the index of `value` in `names`, or a UsageError listing them.
size_t choose(const std::string& flag, const std::string& value,
              const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == value) return i;
  }
  std::string list;
  for (size_t i = 0; i < names.size(); ++i) {
    list += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  throw UsageError("--" + flag + " expects " + list + ", got '" + value + "'");
}

constexpr double kMaxTimeoutSeconds = 7 * 24 * 3600.0;  // a week: fits milliseconds in int64

}  // namespace

std::string SessionSpec::data_or_default() const {
  return data.empty() ? default_data_spec() : data;
}

const std::vector<SpecFlag>& session_flags() {
  static const std::vector<SpecFlag> flags{
      {"model", true},        {"output", true},      {"data", true},
      {"image", true},        {"classes", true},     {"devices", true},
      {"batch", true},        {"optimizer", true},   {"lr", true},
      {"weight-decay", true}, {"loss", true},        {"seed", true},
      {"unsync", false},      {"dist", false},       {"backend", true},
      {"timeout", true},      {"run", true},         {"stop-on-nonfinite", false},
      {"detail-steps", true}, {"detail-every", true}};
  return flags;
}

void set_session_flag(SessionSpec& spec, const std::string& name, const std::string& value) {
  const auto flag = "--" + name;
  if (name == "model") {
    spec.model = value;
  } else if (name == "output") {
    check_output_choice(value);
    spec.output = value == "auto" ? "" : value;
  } else if (name == "data") {
    spec.data = value;
  } else if (name == "image") {
    spec.image = parse_sizes(flag, value, "C,H,W");  // a sample's shape: no batch size in it
  } else if (name == "classes") {
    spec.classes = parse_whole_number(flag, value, 1, 1 << 20);
  } else if (name == "devices") {
    spec.devices = value;
  } else if (name == "batch") {
    spec.batch = parse_whole_number(flag, value, 1, 1 << 20);
  } else if (name == "optimizer") {
    spec.optimizer =
        choose(name, value, {"sgd", "adam"}) == 1 ? OptimizerKind::kAdam : OptimizerKind::kSgd;
  } else if (name == "lr") {
    spec.learning_rate = parse_number(flag, value);
  } else if (name == "weight-decay") {
    spec.weight_decay = parse_number(flag, value);
  } else if (name == "loss") {
    spec.loss = choose(name, value, {"ce", "mse"}) == 1 ? LossKind::kMse : LossKind::kCrossEntropy;
  } else if (name == "seed") {
    spec.seed = static_cast<uint64_t>(parse_whole_number(flag, value, 0, INT64_MAX));
  } else if (name == "unsync") {
    spec.synchronized = false;
  } else if (name == "dist") {
    spec.dist = true;
  } else if (name == "stop-on-nonfinite") {
    spec.stop_on_nonfinite = true;
  } else if (name == "backend") {
    spec.backend = value;
    choose(name, value, {"gloo", "nccl"});
  } else if (name == "timeout") {
    spec.timeout_seconds = parse_seconds(flag, value, kMaxTimeoutSeconds);
  } else if (name == "detail-steps" || name == "detail-every") {
    try {
      if (name == "detail-steps") {
        spec.detail.steps = store::parse_detail_steps(value);
      } else {
        spec.detail.every = store::parse_detail_every(value);
      }
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
  } else if (name == "run") {
    if (value.empty()) throw UsageError("--run expects a file to record to, got ''");
    spec.run = value;
  } else {
    throw UsageError("unknown option " + flag);
  }
}

void check_session_spec(const SessionSpec& spec) {
  if (!spec.dist) {
    if (spec.timeout_seconds) throw UsageError("--timeout applies only with --dist");
    if (!spec.backend.empty()) throw UsageError("--backend applies only with --dist");
  }
  if (!spec.output.empty() && spec.model.empty()) {
    throw UsageError("--output " + spec.output +
                     ": the demo CNN returns one tensor; expected --output with a --model");
  }
  if (spec.image.size() > 4) {
    throw UsageError("--image expects F, C,L, C,H,W or C,T,H,W, got '" + join_sizes(spec.image) +
                     "'");
  }
  require_finite_non_negative("--lr", spec.lr());
  require_finite_non_negative("--weight-decay", spec.weight_decay);
}

std::vector<std::string> session_spec_flags(const SessionSpec& spec) {
  const SessionSpec defaults;
  std::vector<std::string> out;
  auto add = [&](const char* name, const std::string& value) {
    out.push_back(std::string("--") + name);
    out.push_back(value);
  };
  if (!spec.model.empty()) add("model", spec.model);
  if (!spec.output.empty()) add("output", spec.output);
  if (!spec.data.empty()) add("data", spec.data);
  if (!spec.image.empty()) add("image", join_sizes(spec.image));
  if (spec.classes != 0) add("classes", std::to_string(spec.classes));
  if (spec.devices != defaults.devices) add("devices", spec.devices);
  if (spec.batch != defaults.batch) add("batch", std::to_string(spec.batch));
  if (spec.optimizer == OptimizerKind::kAdam) add("optimizer", "adam");
  if (spec.learning_rate) add("lr", number_text(*spec.learning_rate));
  if (spec.weight_decay != 0) add("weight-decay", number_text(spec.weight_decay));
  if (spec.loss == LossKind::kMse) add("loss", "mse");
  if (spec.seed != 0) add("seed", std::to_string(spec.seed));
  if (!spec.synchronized) out.push_back("--unsync");
  if (spec.stop_on_nonfinite) out.push_back("--stop-on-nonfinite");
  if (spec.dist) out.push_back("--dist");
  if (!spec.backend.empty()) add("backend", spec.backend);
  if (spec.timeout_seconds) add("timeout", number_text(*spec.timeout_seconds));
  if (!spec.run.empty()) add("run", spec.run);
  if (spec.detail.steps != defaults.detail.steps)
    add("detail-steps", store::detail_steps_text(spec.detail.steps));
  if (spec.detail.every != defaults.detail.every)
    add("detail-every", std::to_string(spec.detail.every));
  return out;
}

std::vector<int64_t> synthetic_shape(const std::vector<int64_t>& image) {
  return image.empty() ? std::vector<int64_t>{1, 28, 28} : image;
}

std::string default_data_spec() {
  return data::installed_fashion_mnist() ? "fashion-mnist" : "synthetic";
}

namespace {

double physical_memory() {
  return static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
         static_cast<double>(::sysconf(_SC_PAGESIZE));
}

std::shared_ptr<const data::Dataset> load_data_unguarded(const std::string& spec,
                                                         const std::vector<int64_t>& image,
                                                         uint64_t seed, int64_t batch,
                                                         int64_t classes) {
  if (spec == "fashion-mnist") {
    const auto paths = data::installed_fashion_mnist();
    if (!paths) {
      throw UsageError(
          "--data fashion-mnist: not installed (apt-get install dataset-fashion-mnist), or use "
          "--data synthetic");
    }
    return data::load_idx(paths->images, paths->labels);
  }
  if (spec == "synthetic") {
    const auto shape = synthetic_shape(image);
    return data::make_synthetic(shape, classes > 0 ? classes : 10,
                                synthetic_sample_count(shape, batch), seed);
  }
  if (classes > 0) {
    throw UsageError("--classes applies to synthetic data; '" + spec +
                     "' has its own labels (leave --classes out)");
  }
  if (spec.rfind("imagefolder:", 0) == 0) {
    if (spec.size() == 12) throw UsageError("--data imagefolder: expects imagefolder:DIR");
    return data::load_image_folder(spec.substr(12), image);
  }
  if (spec.rfind("idx:", 0) == 0) {
    const auto files = split(spec.substr(4), ',');
    if (files.size() != 2) throw UsageError("--data idx: expects idx:IMAGES,LABELS");
    return data::load_idx(files[0], files[1]);
  }
  if (spec.rfind("cifar10:", 0) == 0) return data::load_cifar10(split(spec.substr(8), ','));
  throw UsageError(
      "--data expects fashion-mnist, synthetic, idx:IMAGES,LABELS, cifar10:FILE[,FILE...] or "
      "imagefolder:DIR, got '" +
      spec + "'");
}

}  // namespace

int64_t synthetic_sample_count(const std::vector<int64_t>& shape, int64_t batch) {
  double sample_bytes = 4;
  std::string text;
  for (const auto size : shape) {
    sample_bytes *= static_cast<double>(size);
    text += (text.empty() ? "" : "x") + std::to_string(size);
  }
  const auto count = std::max<int64_t>(
      std::max<int64_t>(batch, 1),
      std::min<int64_t>(4096, static_cast<int64_t>(std::max(1e9 / sample_bytes, 1.0))));
  const double memory = physical_memory();
  const double making = 3 * static_cast<double>(count) * sample_bytes;
  const auto start = "synthetic data of " + text + " samples: a batch of " + std::to_string(batch) +
                     " takes " + bytes_text(batch * sample_bytes) + " (" +
                     bytes_text(sample_bytes) + " a sample) and making " + std::to_string(count) +
                     " samples about " + bytes_text(making);
  const auto expected = "; expected a smaller --image or --batch";
  if (memory > 0 && making > memory / 2) {
    throw UsageError(start + ", more than half of this machine's " + bytes_text(memory) + expected);
  }
  // Less may be left to this process (ulimit -v, a cgroup, other processes).
  const auto bound = memory_this_process_can_have();
  if (bound.known() && making > bound.bytes) {
    throw UsageError(start + ", more than the process can have, " + bytes_text(bound.bytes) + " (" +
                     bound.source + ")" + expected);
  }
  return count;
}

std::shared_ptr<const data::Dataset> load_data(const std::string& spec,
                                               const std::vector<int64_t>& image, uint64_t seed,
                                               int64_t batch, int64_t classes) {
  try {
    return load_data_unguarded(spec, image, seed, batch, classes);
  } catch (const std::bad_alloc&) {
    // A vector or tensor too large for the memory left; its own message names no size.
    throw data::DataError("--data " + spec + ": out of memory while loading it (this machine has " +
                          bytes_text(physical_memory()) + "); expected data that fits");
  }
}

}  // namespace replicascope::engine
