// SPDX-License-Identifier: MIT
// The tensor records of a TorchScript archive against the storages its pickles declare.
#include "archive_check.h"

#include <caffe2/serialize/inline_container.h>

#include <map>

namespace replicascope::script {

void check_tensor_records(const std::string& path, const std::vector<ZipEntry>& entries) {
  if (entries.empty()) throw ArchiveDefect("a zip archive with no records");
  // LibTorch prefixes every name it looks up with the folder of the directory's first record.
  const auto slash = entries.front().name.find('/');
  if (slash == std::string::npos) {
    throw ArchiveDefect("its first record '" + entries.front().name +
                        "' is in no folder; expected <name>/data.pkl and the like");
  }
  const auto folder = entries.front().name.substr(0, slash + 1);
  std::map<std::string, const ZipEntry*> by_name;
  for (const auto& entry : entries) by_name[zip_name_key(entry.name)] = &entry;
  // Checked here, not by the reader: LibTorch 1.13's reader leaks miniz's state when its
  // constructor throws. Like that reader, take `.data/version` where it is, else `version`
  // (PyTorch writes the former for models whose operators have versioned schemas, gelu or
  // linspace, and 2.x for every model).
  if (!by_name.count(zip_name_key(folder + ".data/version")) &&
      !by_name.count(zip_name_key(folder + "version"))) {
    throw ArchiveDefect("it has no record " + folder + ".data/version or " + folder +
                        "version; expected a TorchScript archive");
  }
  caffe2::serialize::PyTorchStreamReader reader(path);
  // torch.jit.load reads these two pickles, and each storage from <pickle's name>/<key>.
  for (const std::string archive : {"data", "constants"}) {
    const auto pickle_name = archive + ".pkl";
    if (!by_name.count(zip_name_key(folder + pickle_name))) continue;  // LibTorch says so
    const auto [pickle, pickle_size] = reader.getRecord(pickle_name);
    const auto storages =
        storages_in_pickle(static_cast<const char*>(pickle.get()), pickle_size, pickle_name);
    for (const auto& storage : storages) {
      if (storage.elements == 0) continue;  // LibTorch reads no record for an empty storage
      const auto record = archive + "/" + storage.key;
      const auto declared = std::to_string(storage.elements) + " " + storage.type +
                            " elements, as " + pickle_name + " declares";
      const auto found = by_name.find(zip_name_key(folder + record));
      if (found == by_name.end()) {
        throw ArchiveDefect("record " + record + " is missing, but its tensor storage needs " +
                            declared + "; a truncated or damaged archive");
      }
      const auto needed =
          static_cast<uint64_t>(storage.elements) * static_cast<uint64_t>(storage.element_size);
      if (found->second->size < needed) {
        throw ArchiveDefect("record " + record + " holds " + std::to_string(found->second->size) +
                            " bytes but its tensor storage needs " + std::to_string(needed) + " (" +
                            declared + "); a truncated or damaged archive");
      }
    }
  }
}

}  // namespace replicascope::script
