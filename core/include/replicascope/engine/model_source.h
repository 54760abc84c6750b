// SPDX-License-Identifier: MIT
// Where a session's model comes from: the built-in demo or a TorchScript file.
#pragma once

#include <string>

#include "replicascope/engine/session.h"
#include "replicascope/store/run_rows.h"

namespace replicascope::engine {

// The built-in demo CNN (models::DemoNet) for 1x28x28 images.
ModelFactory demo_model(int64_t classes = 10);
// A TorchScript file, training on the tensor of its forward()'s result that `output` picks
// (ScriptedModelOptions::output; "" is auto); loading errors (script::ModelLoadError) surface
// at the first call.
ModelFactory scripted_model(const std::string& path, const std::string& output = "");

// A run's metadata: the model ("demo" for an empty path) and its hash, devices, data,
// hyper-parameters, LibTorch version and the time it was created.
store::Metadata run_metadata(const SessionOptions& options, const std::string& model_path,
                             const std::string& data_spec);
// The time now as ISO 8601 in UTC ("2026-11-30T12:00:00Z"), as run metadata keeps it.
std::string utc_timestamp();

}  // namespace replicascope::engine
