#include "replicascope/engine/model_source.h"

#include "replicascope/model/frontend_model.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/models/demo_net.h"

namespace replicascope::engine {

ModelFactory demo_model(int64_t classes) {
  return [classes](bool synchronized) -> std::unique_ptr<Model> {
    models::DemoNet net(models::DemoNetOptions().classes(classes).synchronized(synchronized));
    return FrontendModel::wrap(net.ptr(), "demo");
  };
}

ModelFactory scripted_model(const std::string& path) {
  return [path](bool synchronized) -> std::unique_ptr<Model> {
    return ScriptedModel::load(path, ScriptedModelOptions().synchronize(synchronized));
  };
}

}  // namespace replicascope::engine
