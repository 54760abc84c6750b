// SPDX-License-Identifier: MIT
// libFuzzer target: script::load_module, the whole path from a model file to a loaded
// TorchScript module (the checks, then torch::jit::load), and inspect on what loads. Slower than
// fuzz_model_archive: LibTorch compiles the archive's code. Seeds in tests/fuzz/model_archive/.
#include <cstdint>

#include "fuzz_file.h"
#include "replicascope/torchscript/module_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static replicascope::fuzz::FuzzFile model("model.pt");
  namespace script = replicascope::script;
  const auto& path = model.write(data, size);
  try {
    script::inspect(script::load_module(path));
  } catch (const script::ModelLoadError&) {
    // a refused file: what load_module is for
  }
  return 0;
}
