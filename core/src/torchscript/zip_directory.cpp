// SPDX-License-Identifier: MIT
// The central directory of a zip file, read as miniz 2.1 (LibTorch's zip reader) reads it: the
// same end record, the same zip64 fields, so that the sizes checked are the sizes LibTorch uses.
// Nothing is allocated beyond the file's size.
#include <algorithm>
#include <fstream>

#include "archive_check.h"

namespace replicascope::script {
namespace {

constexpr uint64_t kEndRecord = 22, kZip64Locator = 20, kZip64EndRecord = 56;
constexpr uint64_t kEntryHeader = 46, kMostComment = 0xffff;
constexpr uint32_t kEndSignature = 0x06054b50, kZip64LocatorSignature = 0x07064b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50, kEntrySignature = 0x02014b50;
constexpr uint64_t kSaturated = 0xffffffff;  // a 32-bit field whose value is in the zip64 extra
// deflate compresses by at most 1032:1: a record that promises more from its compressed bytes
// cannot be true, and miniz would allocate the promise before finding out.
constexpr uint64_t kMostInflation = 1100;

uint64_t little_endian(const uint8_t* bytes, int count) {
  uint64_t value = 0;
  for (int i = count - 1; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

class ZipFile {
 public:
  explicit ZipFile(const std::string& path) : in_(path, std::ios::binary) {
    if (!in_) throw ArchiveDefect("cannot open it");
    in_.seekg(0, std::ios::end);
    const auto end = in_.tellg();
    if (end < 0) throw ArchiveDefect("cannot find its size");
    size_ = static_cast<uint64_t>(end);
  }
  uint64_t size() const { return size_; }
  // `bytes` bytes at `offset`; the caller has checked that they are inside the file.
  std::vector<uint8_t> read(uint64_t offset, uint64_t bytes) {
    std::vector<uint8_t> out(bytes);
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(bytes));
    if (static_cast<uint64_t>(in_.gcount()) != bytes) {
      throw ArchiveDefect("cannot read " + std::to_string(bytes) + " bytes at offset " +
                          std::to_string(offset));
    }
    return out;
  }

 private:
  std::ifstream in_;
  uint64_t size_ = 0;
};

struct Directory {
  uint64_t entries = 0, size = 0, offset = 0;
};

// The last end record with room for itself before the end of the file, as miniz searches.
uint64_t find_end_record(ZipFile& file) {
  if (file.size() < kEndRecord) {
    throw ArchiveDefect(std::to_string(file.size()) + " bytes, too short for a zip directory");
  }
  const uint64_t tail = std::min(file.size(), kEndRecord + kMostComment);
  const auto bytes = file.read(file.size() - tail, tail);
  for (uint64_t i = tail - kEndRecord + 1; i-- > 0;) {
    if (little_endian(&bytes[i], 4) == kEndSignature) return file.size() - tail + i;
  }
  throw ArchiveDefect("no zip end record in its last " + std::to_string(tail) +
                      " bytes: the end of the file is missing");
}

Directory find_directory(ZipFile& file) {
  const uint64_t end = find_end_record(file);
  const auto record = file.read(end, kEndRecord);
  Directory directory{little_endian(&record[10], 2), little_endian(&record[12], 4),
                      little_endian(&record[16], 4)};
  uint64_t on_this_disk = little_endian(&record[8], 2), disk = little_endian(&record[4], 2);
  uint64_t directory_disk = little_endian(&record[6], 2);
  // miniz takes the zip64 end record whenever its locator is right before the end record.
  if (end >= kZip64Locator + kZip64EndRecord) {
    const auto locator = file.read(end - kZip64Locator, kZip64Locator);
    if (little_endian(&locator[0], 4) == kZip64LocatorSignature) {
      const uint64_t at = little_endian(&locator[8], 8);
      if (at > file.size() - kZip64EndRecord)
        throw ArchiveDefect("its zip64 end record is outside it");
      const auto zip64 = file.read(at, kZip64EndRecord);
      if (little_endian(&zip64[0], 4) == kZip64EndSignature) {
        if (little_endian(&zip64[4], 8) < kZip64EndRecord - 12 ||
            little_endian(&locator[16], 4) != 1) {
          throw ArchiveDefect("a malformed or multi-disk zip64 end record");
        }
        directory = {little_endian(&zip64[32], 8), little_endian(&zip64[40], 8),
                     little_endian(&zip64[48], 8)};
        on_this_disk = little_endian(&zip64[24], 8);
        disk = little_endian(&zip64[16], 4);
        directory_disk = little_endian(&zip64[20], 4);
      }
    }
  }
  if (on_this_disk != directory.entries || disk != directory_disk || disk > 1) {
    throw ArchiveDefect("a zip archive spread over several disks");
  }
  if (directory.entries == 0) throw ArchiveDefect("a zip archive with no records");
  if (directory.size / kEntryHeader < directory.entries || directory.offset > file.size() ||
      directory.size > file.size() - directory.offset) {
    throw ArchiveDefect("its zip directory (" + std::to_string(directory.entries) + " records, " +
                        std::to_string(directory.size) + " bytes at offset " +
                        std::to_string(directory.offset) + ") does not fit in its " +
                        std::to_string(file.size()) + " bytes");
  }
  return directory;
}

// The zip64 extended information where a 32-bit field is saturated, as miniz's file_stat reads
// it: the first field of id 1, its values in the order uncompressed, compressed, offset.
void read_zip64_extra(const uint8_t* extra, uint64_t length, uint64_t* fields[3]) {
  while (length > 0) {
    if (length < 4) throw ArchiveDefect("a malformed extra field in the zip directory");
    const uint64_t id = little_endian(extra, 2), bytes = little_endian(extra + 2, 2);
    if (bytes + 4 > length) throw ArchiveDefect("a malformed extra field in the zip directory");
    if (id == 1) {
      const uint8_t* value = extra + 4;
      for (int i = 0; i < 3; ++i) {
        if (*fields[i] != kSaturated) continue;
        if (value + 8 > extra + 4 + bytes) throw ArchiveDefect("a short zip64 extra field");
        *fields[i] = little_endian(value, 8);
        value += 8;
      }
      return;
    }
    extra += 4 + bytes;
    length -= 4 + bytes;
  }
}

// What cannot be true of a record of a file of `file_size` bytes, or empty.
std::string implausible(const ZipEntry& entry, uint64_t flags, uint64_t file_size) {
  if (flags & 0x2001) return "is encrypted";
  if (entry.method != 0 && entry.method != 8) {
    return "uses compression method " + std::to_string(entry.method) +
           " (expected 0, stored, or 8, deflate)";
  }
  const auto sizes = std::to_string(entry.size) + " bytes from " +
                     std::to_string(entry.compressed_size) + " in the file";
  if (entry.method == 0 && entry.size != entry.compressed_size)
    return "is stored but declares " + sizes;
  if (entry.method == 8 && entry.size / kMostInflation > entry.compressed_size) {
    return "declares " + sizes + ", more than deflate can give";
  }
  const auto local_header = entry.local_header;
  if (local_header > file_size || entry.compressed_size > file_size - local_header ||
      kZipLocalHeader > file_size - local_header - entry.compressed_size) {
    return "lies past the end of the file (" + std::to_string(file_size) + " bytes)";
  }
  return "";
}

}  // namespace

std::string zip_name_key(std::string name) {
  for (auto& c : name) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return name;
}

std::vector<ZipEntry> read_zip_directory(const std::string& path) {
  ZipFile file(path);
  const auto directory = find_directory(file);
  const auto bytes = file.read(directory.offset, directory.size);
  std::vector<ZipEntry> entries;
  uint64_t at = 0;
  for (uint64_t i = 0; i < directory.entries; ++i) {
    const uint8_t* p = bytes.data() + at;
    if (directory.size - at < kEntryHeader || little_endian(p, 4) != kEntrySignature) {
      throw ArchiveDefect("zip directory entry " + std::to_string(i) + " is malformed");
    }
    const uint64_t name = little_endian(p + 28, 2), extra = little_endian(p + 30, 2);
    const uint64_t length = kEntryHeader + name + extra + little_endian(p + 32, 2);
    if (length > directory.size - at) {
      throw ArchiveDefect("zip directory entry " + std::to_string(i) + " runs past the directory");
    }
    ZipEntry entry;
    entry.name.assign(reinterpret_cast<const char*>(p) + kEntryHeader, name);
    entry.size = little_endian(p + 24, 4);
    entry.compressed_size = little_endian(p + 20, 4);
    entry.method = static_cast<uint16_t>(little_endian(p + 10, 2));
    entry.crc32 = static_cast<uint32_t>(little_endian(p + 16, 4));
    entry.local_header = little_endian(p + 42, 4);
    if (std::max({entry.size, entry.compressed_size, entry.local_header}) == kSaturated) {
      uint64_t* fields[3] = {&entry.size, &entry.compressed_size, &entry.local_header};
      read_zip64_extra(p + kEntryHeader + name, extra, fields);
    }
    const auto wrong = implausible(entry, little_endian(p + 8, 2), file.size());
    if (!wrong.empty()) throw ArchiveDefect("the record '" + entry.name + "' " + wrong);
    entries.push_back(std::move(entry));
    at += length;
  }
  std::vector<std::string> names;
  for (const auto& entry : entries) names.push_back(zip_name_key(entry.name));
  std::sort(names.begin(), names.end());
  const auto twice = std::adjacent_find(names.begin(), names.end());
  if (twice != names.end()) {
    throw ArchiveDefect("the record '" + *twice + "' is there twice (names ignoring case)");
  }
  return entries;
}

}  // namespace replicascope::script
