// SPDX-License-Identifier: MIT
#include "replicascope/data/dataset.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace replicascope::data {

Dataset::Dataset(std::string name, torch::Tensor images, torch::Tensor labels, int64_t classes,
                 double divisor)
    : name_(std::move(name)),
      images_(images.contiguous()),
      labels_(std::move(labels)),
      classes_(classes),
      divisor_(divisor) {
  if (images_.dim() < 2 || images_.dim() > 5 || labels_.dim() != 1 ||
      images_.size(0) != labels_.size(0)) {
    throw DataError("dataset '" + name_ +
                    "': expected samples [N, F], [N, C, L], [N, C, H, W] or [N, C, T, H, W] and "
                    "labels [N]");
  }
  if (images_.size(0) == 0) throw DataError("dataset '" + name_ + "': no samples");
  sample_shape_ = images_.sizes().slice(1).vec();
  set_mean_and_std(images_);
}

Dataset::Dataset(std::string name, std::shared_ptr<const SampleSource> source,
                 std::vector<int64_t> sample_shape, torch::Tensor labels, int64_t classes)
    : name_(std::move(name)),
      labels_(std::move(labels)),
      source_(std::move(source)),
      sample_shape_(std::move(sample_shape)),
      classes_(classes),
      divisor_(255.0) {
  if (sample_shape_.empty() || sample_shape_.size() > 4 || labels_.dim() != 1) {
    throw DataError("dataset '" + name_ +
                    "': expected a sample shape of F / C,L / C,H,W / C,T,H,W and labels [N]");
  }
  if (labels_.size(0) == 0) throw DataError("dataset '" + name_ + "': no samples");
  // Reading every file at load would take as long as an epoch: an even spread of 512 samples
  // (fewer for big ones: at most 256 MB of them at once) estimates one mean and std well enough
  // to normalize by.
  int64_t sample_bytes = 1;
  for (const auto s : sample_shape_) sample_bytes *= std::max<int64_t>(s, 1);
  const int64_t spread =
      std::clamp<int64_t>((int64_t{256} << 20) / sample_bytes, 1, std::min<int64_t>(size(), 512));
  set_mean_and_std(read(torch::linspace(0, static_cast<double>(size() - 1), spread, torch::kDouble)
                            .round()
                            .to(torch::kLong)));
}

void Dataset::set_mean_and_std(const torch::Tensor& values) {
  // Mean and variance in float64, a slice at a time: a float copy of the whole set would take
  // four times the memory of its bytes.
  const int64_t per_sample = std::max<int64_t>(values[0].numel(), 1);
  const int64_t slice = std::max<int64_t>(1, (int64_t{1} << 22) / per_sample);
  double count = 0, m2 = 0;  // Chan et al.'s merge of each slice's mean and squared deviations
  mean_ = 0;
  for (int64_t first = 0; first < values.size(0); first += slice) {
    const auto part = values.narrow(0, first, std::min(slice, values.size(0) - first))
                          .to(torch::kDouble)
                          .div_(divisor_);
    const auto n = static_cast<double>(part.numel());
    const double part_mean = part.mean().item<double>();
    const double part_m2 = (part - part_mean).square().sum().item<double>();
    const double delta = part_mean - mean_;
    mean_ += delta * n / (count + n);
    m2 += part_m2 + delta * delta * count * n / (count + n);
    count += n;
  }
  const double variance = count > 1 ? m2 / (count - 1) : 0.0;
  std_ = std::max(std::sqrt(variance), 1e-12);
}

std::vector<int64_t> Dataset::sample_shape() const {
  return sample_shape_;
}

torch::Tensor Dataset::read(const torch::Tensor& indices) const {
  if (!source_) return images_.index_select(0, indices);
  std::vector<int64_t> shape{indices.size(0)};
  shape.insert(shape.end(), sample_shape_.begin(), sample_shape_.end());
  auto samples = torch::empty(shape, torch::kUInt8);
  const int64_t per_sample = samples.numel() / std::max<int64_t>(indices.size(0), 1);
  const auto* index = indices.data_ptr<int64_t>();
  for (int64_t i = 0; i < indices.size(0); ++i) {
    source_->read(index[i], samples.data_ptr<uint8_t>() + i * per_sample);
  }
  return samples;
}

Batch Dataset::get(const torch::Tensor& indices) const {
  auto images = read(indices).to(torch::kFloat);
  if (divisor_ != 1.0) images.div_(divisor_);
  return {images.sub_(mean_).div_(std_), labels_.index_select(0, indices)};
}

std::unique_ptr<Dataset> make_synthetic(const std::vector<int64_t>& sample_shape, int64_t classes,
                                        int64_t count, uint64_t seed) {
  if (sample_shape.empty() || sample_shape.size() > 4 || classes < 1 || count < 1) {
    throw DataError(
        "synthetic data: expected an F / C,L / C,H,W / C,T,H,W shape, at least one class and one "
        "sample");
  }
  auto generator = at::detail::createCPUGenerator(seed);
  std::vector<int64_t> pattern_shape{classes};
  pattern_shape.insert(pattern_shape.end(), sample_shape.begin(), sample_shape.end());
  std::vector<int64_t> image_shape{count};
  image_shape.insert(image_shape.end(), sample_shape.begin(), sample_shape.end());
  const auto patterns = torch::randn(pattern_shape, generator);
  auto labels = torch::randint(classes, {count}, generator, torch::kLong);
  auto images = patterns.index_select(0, labels) + 1.5 * torch::randn(image_shape, generator);
  return std::make_unique<Dataset>("synthetic", images, labels, classes);
}

std::optional<IdxPaths> installed_fashion_mnist() {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  IdxPaths paths{dir + "train-images-idx3-ubyte.gz", dir + "train-labels-idx1-ubyte.gz"};
  std::error_code error;
  if (std::filesystem::exists(paths.images, error) &&
      std::filesystem::exists(paths.labels, error)) {
    return paths;
  }
  return std::nullopt;
}

}  // namespace replicascope::data
