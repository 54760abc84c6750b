// SPDX-License-Identifier: MIT
// The CRC-32 of every record of a zip archive, computed as the record is streamed through a
// fixed buffer (inflated with zlib where it is deflated): memory does not grow with the file.
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>

#include "archive_check.h"

namespace replicascope::script {
namespace {

constexpr uint32_t kLocalSignature = 0x04034b50;
constexpr size_t kChunk = 1 << 16;

// Two chunks of kChunk bytes, allocated once for all records (not zeroed: they are written
// before they are read).
struct Buffers {
  std::unique_ptr<uint8_t[]> in{new uint8_t[kChunk]}, out{new uint8_t[kChunk]};
};

class Record {
 public:
  Record(std::ifstream& in, uint64_t file_size, const ZipEntry& entry, Buffers& buffers)
      : in_(in), entry_(entry), buffers_(buffers) {
    // The data follows the local header, whose name and extra field lengths are its own (miniz
    // reads them there, not in the directory).
    uint8_t header[kZipLocalHeader];
    if (entry.local_header > file_size || kZipLocalHeader > file_size - entry.local_header ||
        !read_at(entry.local_header, header, kZipLocalHeader) ||
        (header[0] | header[1] << 8 | header[2] << 16 | uint32_t{header[3]} << 24) !=
            kLocalSignature) {
      fail("has no local header where its directory entry says");
    }
    const uint64_t data = entry.local_header + kZipLocalHeader + (header[26] | header[27] << 8) +
                          (header[28] | header[29] << 8);
    if (data > file_size || entry.compressed_size > file_size - data) {
      fail("lies past the end of the file");
    }
    in_.seekg(static_cast<std::streamoff>(data));
  }

  uint32_t crc32_of_contents() { return entry_.method == 0 ? crc32_stored() : crc32_inflated(); }

  [[noreturn]] void fail(const std::string& what) const {
    throw ArchiveDefect("the record '" + entry_.name + "' " + what +
                        "; a damaged or truncated archive");
  }

 private:
  bool read_at(uint64_t offset, uint8_t* out, uint64_t bytes) {
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(bytes));
    return static_cast<uint64_t>(in_.gcount()) == bytes;
  }
  // The next piece of the record's data, at most kChunk bytes; empty at its end.
  size_t next(uint8_t* out) {
    const auto piece = static_cast<size_t>(std::min<uint64_t>(left_, kChunk));
    in_.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(piece));
    if (static_cast<size_t>(in_.gcount()) != piece) fail("cannot be read whole");
    left_ -= piece;
    return piece;
  }
  uint32_t crc32_stored() {
    uint8_t* chunk = buffers_.in.get();
    uLong crc = crc32(0, nullptr, 0);
    for (size_t n; (n = next(chunk)) > 0;) crc = crc32(crc, chunk, uInt(n));
    return static_cast<uint32_t>(crc);
  }
  uint32_t crc32_inflated();

  std::ifstream& in_;
  const ZipEntry& entry_;
  Buffers& buffers_;
  uint64_t left_ = entry_.compressed_size;
};

uint32_t Record::crc32_inflated() {
  uint8_t *chunk = buffers_.in.get(), *out = buffers_.out.get();
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) fail("cannot be inflated (zlib failed)");
  std::unique_ptr<z_stream, int (*)(z_stream*)> end(&stream, inflateEnd);
  uLong crc = crc32(0, nullptr, 0);
  uint64_t inflated = 0;
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    if (stream.avail_in == 0) {
      stream.avail_in = uInt(next(chunk));
      stream.next_in = chunk;
      if (stream.avail_in == 0) fail("ends inside its deflate data");
    }
    stream.next_out = out;
    stream.avail_out = uInt(kChunk);
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) fail("holds damaged deflate data");
    const auto produced = kChunk - stream.avail_out;
    inflated += produced;
    if (inflated > entry_.size) break;  // more than its entry declares: refused below
    crc = crc32(crc, out, uInt(produced));
  }
  if (inflated != entry_.size) {
    fail("inflates to " + std::string(inflated > entry_.size ? "more than " : "") +
         std::to_string(inflated) + " bytes, its directory entry says " +
         std::to_string(entry_.size));
  }
  return static_cast<uint32_t>(crc);
}

std::string hex(uint32_t value) {
  char text[9];
  std::snprintf(text, sizeof(text), "%08x", value);
  return text;
}

}  // namespace

void check_record_checksums(const std::string& path, const std::vector<ZipEntry>& entries) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ArchiveDefect("cannot open it");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(std::max<std::streamoff>(in.tellg(), 0));
  Buffers buffers;
  for (const auto& entry : entries) {
    Record record(in, size, entry, buffers);
    const auto crc = record.crc32_of_contents();
    if (crc != entry.crc32) {
      record.fail("does not match its checksum (CRC-32 " + hex(crc) +
                  ", its directory entry says " + hex(entry.crc32) + ")");
    }
  }
}

}  // namespace replicascope::script
