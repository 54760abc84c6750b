// SPDX-License-Identifier: MIT
// libFuzzer target: store::RunReader on a run file, and everything the CLI and the GUI read from
// it: metadata, steps, layers, the model's tables, every statistic, each layer's divergence and
// summaries, the steps that kept detail (seeds in tests/fuzz/run_file/: small runs written by
// replicascope-cli train, and a version-4 run with sampled detail by the Python recorder).
#include <cstdint>

#include "fuzz_file.h"
#include "replicascope/store/run_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static replicascope::fuzz::FuzzFile run("run.sqlite");
  namespace store = replicascope::store;
  const auto& path = run.write(data, size);
  try {
    store::RunReader reader(path);
    reader.metadata();
    reader.steps();
    reader.model();
    size_t values = 0;
    reader.for_each_stat({}, [&](const store::StatRow&) { ++values; });
    for (const auto& layer : reader.layers()) {
      reader.for_each_summary(layer, [&](const store::SummaryRow&) { ++values; });
    }
    reader.divergence_by_layer();
    reader.detail_steps();
    reader.layer_settings();
    reader.eval_calls();
    reader.events();
    for (const auto& step : reader.steps()) values += reader.deviations_at(step.step).size();
  } catch (const store::StoreError&) {
    // a refused file: what the reader is for
  }
  return 0;
}
