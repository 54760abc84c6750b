// SPDX-License-Identifier: MIT
// Checks of a TorchScript archive that LibTorch 1.13 does not make, run before torch::jit::load.
// LibTorch trusts the storage sizes that data.pkl declares and reads past the end of a tensor
// record that is shorter (a truncated or damaged file: garbage weights, or a crash); and its zip
// reader (miniz) allocates whatever size a record's directory entry promises. These checks read
// the zip directory and the pickles the way LibTorch will, with every size and offset bounded by
// the file, and refuse what LibTorch would read out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace replicascope::script {

// What is wrong with an archive, for people; the caller adds the file's name.
class ArchiveDefect : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The fixed part of a record's local header (the zip format's APPNOTE, 4.3.7), before its name
// and extra field.
constexpr uint64_t kZipLocalHeader = 30;

// One record of a zip archive as its central directory describes it, and as miniz will read it.
struct ZipEntry {
  std::string name;              // the full name, "<archive>/data/0"
  uint64_t size = 0;             // uncompressed bytes: what PyTorchStreamReader::getRecord returns
  uint64_t compressed_size = 0;  // bytes in the file
  uint16_t method = 0;           // 0 stored, 8 deflate
  uint32_t crc32 = 0;            // of the uncompressed bytes
  uint64_t local_header = 0;     // offset of the record's local header in the file
};

// The records of the zip file at `path`, found as miniz finds them (the last end record, the
// zip64 one where its locator is there). Throws ArchiveDefect for a directory that does not fit
// in the file, sizes no record of this file can have, a compression miniz cannot read, and a
// name that appears twice (miniz looks names up ignoring case, and would pick either).
std::vector<ZipEntry> read_zip_directory(const std::string& path);

// Every record's bytes against the CRC-32 its directory entry declares, inflated where they are
// deflated. LibTorch's miniz is built without this check: it would read a damaged record as it
// is, weights silently wrong, or code and debug information whose errors LibTorch 1.13 cannot
// report without aborting (torch::jit::ErrorReport::what() throws inside noexcept). Throws
// ArchiveDefect naming the first damaged record. Reads the whole file (about 0.6 ms per MB).
void check_record_checksums(const std::string& path, const std::vector<ZipEntry>& entries);

// A record's name as miniz compares names when it looks one up: ASCII letters in lower case.
std::string zip_name_key(std::string name);

// A tensor storage that a TorchScript pickle declares: `elements` of torch.<type>Storage, whose
// bytes are in the record <archive>/<key>.
struct StorageRecord {
  std::string key;
  std::string type;  // "Float", "Long", ...
  int64_t elements = 0;
  int64_t element_size = 0;
};

// Bytes per element of torch.<type>Storage ("Float" -> 4), as LibTorch 1.13 reads it; 0 for a
// type it does not know.
int64_t storage_element_size(const std::string& type);

// The storages that a pickle written by TorchScript (data.pkl, constants.pkl) declares, in order.
// Walks only the opcodes LibTorch's unpickler reads, with bounded memory, and checks what the
// unpickler does not: that every tensor view stays inside its storage, that memo indices and
// lengths fit the pickle, that marks are balanced. `name` is for messages. Throws ArchiveDefect.
std::vector<StorageRecord> storages_in_pickle(const char* bytes, size_t size,
                                              const std::string& name);

// Every storage that data.pkl and constants.pkl declare has a record at least as long as the
// storage, among `entries` (read_zip_directory of `path`); the pickles are read with LibTorch's
// zip reader, as torch::jit::load reads them. Throws ArchiveDefect naming the record, what it
// holds and what the storage needs; LibTorch's c10::Error where its reader refuses the file.
void check_tensor_records(const std::string& path, const std::vector<ZipEntry>& entries);

}  // namespace replicascope::script
