// SPDX-License-Identifier: MIT
#include "replicascope/engine/model_source.h"

#include <torch/version.h>

#include <ctime>

#include "replicascope/dist/process_group.h"
#include "replicascope/parallel/devices.h"

#include "replicascope/model/demo_net.h"
#include "replicascope/model/frontend_model.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/nn/sync_batchnorm.h"

namespace replicascope::engine {

ModelFactory demo_model(int64_t classes) {
  return [classes](bool synchronized) -> std::unique_ptr<Model> {
    // Synchronized layers either way, so per-copy runs are observed too.
    models::DemoNet net(models::DemoNetOptions().classes(classes));
    net->apply([&](torch::nn::Module& module) {
      if (auto* bn = dynamic_cast<nn::SynchronizedBatchNormBase*>(&module)) {
        bn->options.synchronize_copies(synchronized);
      }
    });
    return FrontendModel::wrap(net.ptr(), "demo");
  };
}

ModelFactory scripted_model(const std::string& path, const std::string& output) {
  return [path, output](bool synchronized) -> std::unique_ptr<Model> {
    return ScriptedModel::load(
        path,
        ScriptedModelOptions().synchronize(synchronized).output(output.empty() ? "auto" : output));
  };
}

std::string utc_timestamp() {
  const std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

store::Metadata run_metadata(const SessionOptions& options, const std::string& model_path,
                             const std::string& data_spec) {
  const bool adam = options.optimizer == OptimizerKind::kAdam;
  return {{"model", model_path.empty() ? "demo" : model_path},
          {"model_hash", model_path.empty() ? "" : store::file_hash(model_path)},
          {"devices", format_devices(options.devices)},
          {"dataset", data_spec},
          {"batch", std::to_string(options.batch_size)},
          {"optimizer", adam ? "adam" : "sgd"},
          {"lr", std::to_string(options.learning_rate)},
          {"weight_decay", std::to_string(options.weight_decay)},
          {"loss", options.loss == LossKind::kMse ? "mse" : "ce"},
          {"seed", std::to_string(options.seed)},
          {"synchronized", options.synchronized ? "true" : "false"},
          {"processes", std::to_string(options.group ? options.group->size() : 1)},
          {"libtorch", TORCH_VERSION},
          {"created", utc_timestamp()}};
}

}  // namespace replicascope::engine
