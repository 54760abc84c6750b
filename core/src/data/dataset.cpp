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
  if (images_.dim() < 3 || images_.dim() > 5 || labels_.dim() != 1 ||
      images_.size(0) != labels_.size(0)) {
    throw DataError(
        "dataset '" + name_ +
        "': expected samples [N, C, L], [N, C, H, W] or [N, C, T, H, W] and labels [N]");
  }
  if (images_.size(0) == 0) throw DataError("dataset '" + name_ + "': no samples");
  // Mean and variance in float64, a slice at a time: a float copy of the whole set would take
  // four times the memory of its bytes.
  const int64_t per_sample = std::max<int64_t>(images_[0].numel(), 1);
  const int64_t slice = std::max<int64_t>(1, (int64_t{1} << 22) / per_sample);
  double count = 0, m2 = 0;  // Chan et al.'s merge of each slice's mean and squared deviations
  for (int64_t first = 0; first < images_.size(0); first += slice) {
    const auto part = images_.narrow(0, first, std::min(slice, images_.size(0) - first))
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
  return images_.sizes().slice(1).vec();
}

Batch Dataset::get(const torch::Tensor& indices) const {
  auto images = images_.index_select(0, indices).to(torch::kFloat);
  if (divisor_ != 1.0) images.div_(divisor_);
  return {images.sub_(mean_).div_(std_), labels_.index_select(0, indices)};
}

std::unique_ptr<Dataset> make_synthetic(const std::vector<int64_t>& sample_shape, int64_t classes,
                                        int64_t count, uint64_t seed) {
  if (sample_shape.size() < 2 || sample_shape.size() > 4 || classes < 1 || count < 1) {
    throw DataError(
        "synthetic data: expected a C,L / C,H,W / C,T,H,W shape, at least one class and one "
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

BatchLoader::BatchLoader(const Dataset& dataset, int64_t batch_size, uint64_t seed)
    : dataset_(dataset), batch_size_(batch_size), seed_(seed) {
  if (batch_size < 1 || batch_size > dataset.size()) {
    throw DataError("batch size " + std::to_string(batch_size) + ": expected 1 to " +
                    std::to_string(dataset.size()) + " (the samples in '" + dataset.name() + "')");
  }
  shuffle();
}

void BatchLoader::shuffle() {
  order_ = torch::randperm(dataset_.size(),
                           at::detail::createCPUGenerator(seed_ * 1000003 + epoch_), torch::kLong);
  position_ = 0;
}

Batch BatchLoader::next() {
  if (position_ + batch_size_ > dataset_.size()) {
    ++epoch_;
    shuffle();
  }
  auto indices = order_.narrow(0, position_, batch_size_);
  position_ += batch_size_;
  return dataset_.get(indices);
}

void BatchLoader::reset() {
  epoch_ = 0;
  shuffle();
}

}  // namespace replicascope::data
