#include "replicascope/engine/model_source.h"

#include "replicascope/model/frontend_model.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/models/demo_net.h"
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

ModelFactory scripted_model(const std::string& path) {
  return [path](bool synchronized) -> std::unique_ptr<Model> {
    return ScriptedModel::load(path, ScriptedModelOptions().synchronize(synchronized));
  };
}

}  // namespace replicascope::engine
