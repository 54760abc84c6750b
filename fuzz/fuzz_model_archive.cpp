// SPDX-License-Identifier: MIT
// libFuzzer target: the checks load_module makes on a TorchScript archive before LibTorch reads
// it (core/src/torchscript/archive_check.h): the zip directory, the records' checksums, LibTorch's
// own zip reader, and the tensor records against the storages data.pkl and constants.pkl declare.
// The pickles are walked whatever the checksums say, so that mutated pickles reach the walk.
// Fast: no TorchScript is compiled (fuzz_load_module does that). Seeds in
// tests/fuzz/model_archive/.
#include <c10/util/Exception.h>

#include <cstdint>

#include "fuzz_file.h"
#include "torchscript/archive_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static replicascope::fuzz::FuzzFile model("model.pt");
  namespace script = replicascope::script;
  const auto& path = model.write(data, size);
  try {
    const auto entries = script::read_zip_directory(path);
    try {
      script::check_record_checksums(path, entries);
    } catch (const script::ArchiveDefect&) {
      // load_module stops here; the walk below goes on
    }
    script::check_tensor_records(path, entries);
  } catch (const script::ArchiveDefect&) {
    // refused by our checks
  } catch (const c10::Error&) {
    // refused by LibTorch's zip reader, after our directory checks passed
  }
  return 0;
}
