// SPDX-License-Identifier: MIT
// One description of a training session, as the CLI's train and demo commands and the GUI all
// spell it, and its one parser for command-line flags (--model, --data, --image, ...). What a
// spec becomes, a Session and its run file, is made by make_session (session_factory.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "replicascope/base/usage.h"
#include "replicascope/engine/session_kinds.h"
#include "replicascope/store/detail_policy.h"

namespace replicascope::data {
class Dataset;
}  // namespace replicascope::data

namespace replicascope::engine {

struct SessionSpec {
  std::string model;  // a TorchScript file; empty: the built-in demo CNN (1x28x28)
  // Which tensor of the model's forward() result it trains on (ScriptedModelOptions::output):
  // an element's number or a field's name; empty: auto.
  std::string output;
  std::string data;  // a data spec (load_data); empty: default_data_spec()
  // Synthetic samples' shape (empty: 1,28,28), or an image folder's (empty: its first image's).
  std::vector<int64_t> image;
  // Synthetic data's classes; 0: as many as the model has outputs (a forward of two samples;
  // 10 for the demo CNN, or when that forward fails).
  int64_t classes = 0;
  std::string devices = "cpu:4";
  int64_t batch = 32;  // the whole batch, split over the copies (and processes)
  OptimizerKind optimizer = OptimizerKind::kSgd;
  std::optional<double> learning_rate;  // empty: default_learning_rate(optimizer)
  double weight_decay = 0;
  LossKind loss = LossKind::kCrossEntropy;
  uint64_t seed = 0;
  bool synchronized = true;
  // One of several processes, from torchrun's variables (dist::Environment).
  bool dist = false;
  std::string backend;  // gloo or nccl; empty: nccl when every copy is on a GPU and built
  std::optional<double> timeout_seconds;  // empty: 300
  std::string run;              // record every step to this new run file; empty: nothing recorded
  store::DetailOptions detail;  // which recorded steps keep per-channel detail
  // Stop after the first step with a NaN or infinite loss or statistic (it is recorded, marked,
  // either way: replicascope::nonfinite_part).
  bool stop_on_nonfinite = false;

  double lr() const { return learning_rate.value_or(default_learning_rate(optimizer)); }
  std::string data_or_default() const;
};

// A flag of the session spec on a command line.
struct SpecFlag {
  const char* name;  // without the dashes
  bool takes_value;
};
const std::vector<SpecFlag>& session_flags();

// Sets the flag `name` (without dashes; `value` is ignored for switches). Throws UsageError for
// an unknown flag or a value that cannot be used, saying what was expected and given.
void set_session_flag(SessionSpec& spec, const std::string& name, const std::string& value);
// Refuses combinations that cannot work (--backend or --timeout without --dist, an --image that
// is not F / C,L / C,H,W / C,T,H,W, --output without --model) with a UsageError.
void check_session_spec(const SessionSpec& spec);
// The spec as flags that set_session_flag reads back to the same spec (defaults left out).
std::vector<std::string> session_spec_flags(const SessionSpec& spec);

// The shape of synthetic samples: `image`, or 1,28,28 when it is empty.
std::vector<int64_t> synthetic_shape(const std::vector<int64_t>& image);
// fashion-mnist where Debian's dataset-fashion-mnist is installed, synthetic otherwise.
std::string default_data_spec();
// Loads a data spec: fashion-mnist, synthetic (of `image`, `classes` or 10 classes),
// idx:IMAGES,LABELS, cifar10:FILE[,FILE...], imagefolder:DIR (fitted to `image`). Throws
// UsageError for a malformed spec or --classes with data that has its own labels,
// data::DataError for files.
// How many synthetic samples of `shape` load_data makes: up to 4096, at most 1 GB of them, at
// least one batch. Throws UsageError, up front, when they would not fit in half of this
// machine's memory, or in what this process can have (memory_this_process_can_have: ulimit -v,
// a cgroup, MemAvailable); making them takes about three times their size for a moment.
int64_t synthetic_sample_count(const std::vector<int64_t>& shape, int64_t batch);
// `batch`: synthetic data makes at least one batch of samples, and refuses up front a shape
// whose samples would not fit in memory. Running out of memory while loading is a DataError.
std::shared_ptr<const data::Dataset> load_data(const std::string& spec,
                                               const std::vector<int64_t>& image, uint64_t seed,
                                               int64_t batch = 32, int64_t classes = 0);

}  // namespace replicascope::engine

// The help of the session's flags, for a command's usage text.
#define REPLICASCOPE_SESSION_USAGE                                                                 \
  "  --model FILE.pt     a TorchScript model (default: the built-in demo CNN, 1x28x28 input)\n"    \
  "  --output N|NAME     which element of a tuple, named tuple or list that forward() returns\n"   \
  "                      is the scores per class: a number, or a named tuple's field (logits)\n"   \
  "                      (default: the first [batch, classes] tensor; said once when chosen)\n"    \
  "  --data SPEC         fashion-mnist (Debian's dataset-fashion-mnist; the default when\n"        \
  "                      installed), synthetic (the default otherwise), idx:IMAGES,LABELS\n"       \
  "                      (MNIST format, .gz or plain), cifar10:FILE[,FILE...] (binary batches),\n" \
  "                      imagefolder:DIR (DIR/CLASS/NAME.png|.jpg, as torchvision's "              \
  "ImageFolder)\n"                                                                                 \
  "  --image SHAPE       sample shape of synthetic data: F / C,L / C,H,W / C,T,H,W (default\n"     \
  "                      1,28,28); of an image folder: C,H,W, each image scaled to cover H,W\n"    \
  "                      and cropped at the centre (default: the first image's)\n"                 \
  "  --classes N         classes of synthetic data (default: the model's outputs; 10 for the\n"    \
  "                      demo CNN)\n"                                                              \
  "  --devices LIST      copies: cpu:N, or cuda:I,J (default cpu:4)\n"                             \
  "  --batch N           whole batch per step, split over the copies (default 32)\n"               \
  "  --optimizer NAME    sgd (momentum 0.9) or adam (default sgd)\n"                               \
  "  --lr X              learning rate (default 0.003 for sgd, 0.001 for adam)\n"                  \
  "  --weight-decay X    (default 0)\n"                                                            \
  "  --loss NAME         ce (cross-entropy) or mse (on one-hot targets) (default ce)\n"            \
  "  --seed N            weights, data order and synthetic data (default 0)\n"                     \
  "  --unsync            per-copy BatchNorm instead of synchronized, to compare\n"                 \
  "  --detail-steps N    how many recorded steps keep every channel's statistics: a number, "      \
  "all,\n"                                                                                         \
  "                      or auto (the default: as many as fit in 100 MB, 16 to 1000), spread\n"    \
  "                      over the run, a quarter of them the latest; every step keeps its\n"       \
  "                      summaries (divergence, means over channels) either way\n"                 \
  "  --detail-every K    only every K-th step (1, 1+K, ...) may keep detail (default 1)\n"         \
  "  --stop-on-nonfinite stop after the first step whose loss or statistics are NaN or\n"          \
  "                      infinite (they are recorded and marked either way)\n"
