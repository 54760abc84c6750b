// SPDX-License-Identifier: MIT
// The checks made on a TorchScript archive before LibTorch reads it
// (src/torchscript/archive_check.h): the pickle walk on pickles written here byte by byte, and the
// zip directory on the fixtures (tests/fixtures/make_models.py) and on copies of them with a field
// changed.
#include <c10/core/ScalarType.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "../core/src/torchscript/archive_check.h"

namespace rs = replicascope::script;

namespace {

std::string le32(uint32_t v) {
  return {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
          static_cast<char>(v >> 24)};
}
std::string binint(int32_t v) {
  return "J" + le32(static_cast<uint32_t>(v));
}
std::string unicode(const std::string& s) {
  return "X" + le32(s.size()) + s;
}
std::string global(const std::string& module, const std::string& name) {
  return "c" + module + "\n" + name + "\n";
}
std::string tuple_of(const std::vector<int32_t>& values) {
  std::string out = "(";
  for (auto v : values) out += binint(v);
  return out + "t";
}

// A pickle as TorchScript's pickler writes one tensor: _rebuild_tensor_v2 over a persistent
// storage ('storage', torch.<type>Storage, key, 'cpu', elements).
std::string tensor_pickle(int32_t elements, int32_t offset, const std::vector<int32_t>& sizes,
                          const std::vector<int32_t>& strides, const std::string& type = "Float") {
  const std::string storage = "(" + unicode("storage") + global("torch", type + "Storage") +
                              unicode("0") + unicode("cpu") + binint(elements) + "tQ" + "q\x01";
  return std::string("\x80\x02") + global("torch._utils", "_rebuild_tensor_v2") +
         std::string("q\0", 2) + "(" + storage + binint(offset) + tuple_of(sizes) +
         tuple_of(strides) + "\x89" + global("collections", "OrderedDict") + ")Rt" + "R" + ".";
}

std::string repeated(const std::string& s, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += s;
  return out;
}

std::vector<rs::StorageRecord> walk(const std::string& pickle) {
  return rs::storages_in_pickle(pickle.data(), pickle.size(), "data.pkl");
}

// The ArchiveDefect's message, or "no error".
template <class F>
std::string defect_of(F&& f) {
  try {
    f();
  } catch (const rs::ArchiveDefect& e) {
    return e.what();
  }
  return "no error";
}

std::string fixture(const std::string& file) {
  const char* dir = std::getenv("REPLICASCOPE_FIXTURES");
  return std::string(dir ? dir : "fixtures") + "/" + file;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A copy of the fixture `model` whose central directory entry for `record` gets `patch`
// (offsets into the 46-byte entry header).
std::string patched_copy(const std::string& model, const std::string& record,
                         const std::function<void(std::string&, size_t)>& patch) {
  auto bytes = read_file(fixture(model));
  size_t entry = std::string::npos;
  for (size_t i = bytes.find("PK\x01\x02"); i != std::string::npos;
       i = bytes.find("PK\x01\x02", i + 1)) {
    const size_t name_length =
        static_cast<uint8_t>(bytes[i + 28]) | (static_cast<uint8_t>(bytes[i + 29]) << 8);
    if (name_length == record.size() && bytes.compare(i + 46, record.size(), record) == 0) {
      entry = i;
    }
  }
  EXPECT_NE(entry, std::string::npos) << record;
  patch(bytes, entry);
  const auto path = std::filesystem::temp_directory_path() /
                    ("patched_" + std::to_string(::getpid()) + "_" + model);
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

void put_le32(std::string& bytes, size_t at, uint32_t v) {
  bytes.replace(at, 4, le32(v));
}

}  // namespace

TEST(ArchiveCheck, PickleWalkFindsTheStorages) {
  const auto storages = walk(tensor_pickle(6, 0, {2, 3}, {3, 1}, "Double"));
  ASSERT_EQ(storages.size(), 1u);
  EXPECT_EQ(storages[0].key, "0");
  EXPECT_EQ(storages[0].type, "Double");
  EXPECT_EQ(storages[0].elements, 6);
  EXPECT_EQ(storages[0].element_size, 8);
  // A view that skips elements, a broadcast (stride 0) and an empty tensor all fit.
  EXPECT_EQ(walk(tensor_pickle(6, 1, {2, 2}, {3, 1})).size(), 1u);
  EXPECT_EQ(walk(tensor_pickle(1, 0, {5, 5}, {0, 0})).size(), 1u);
  EXPECT_EQ(walk(tensor_pickle(0, 0, {0, 9}, {9, 1})).size(), 1u);
}

TEST(ArchiveCheck, TensorViewsMustStayInsideTheirStorage) {
  EXPECT_NE(defect_of([] { walk(tensor_pickle(4, 0, {8}, {1})); })
                .find("a tensor of sizes (8), strides (1) at offset 0 reaches element 7 of "
                      "storage '0', which holds 4"),
            std::string::npos);
  EXPECT_NE(defect_of([] { walk(tensor_pickle(4, 2, {3}, {1})); }).find("reaches element 4"),
            std::string::npos);
  EXPECT_NE(defect_of([] { walk(tensor_pickle(0, 0, {1}, {1})); }).find("which holds 0"),
            std::string::npos);
  EXPECT_NE(defect_of([] { walk(tensor_pickle(4, 0, {2}, {-1})); }).find("negative"),
            std::string::npos);
  EXPECT_NE(defect_of([] {
              walk(tensor_pickle(4, 0, {2, 2}, {1}));
            }).find("more sizes"),
            std::string::npos);
}

TEST(ArchiveCheck, MalformedPicklesAreRefusedWithWhereAndWhat) {
  const std::string proto("\x80\x02", 2);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"N.", "does not start with a pickle's PROTO instruction"},
      {proto + "I1\n.", "an instruction LibTorch's unpickler does not read (opcode 0x49)"},
      {proto + "h\x05.", "malformed at byte 2: memo entry 5 was never stored"},
      {proto + "Nr\xff\xff\xff\xff.", "memo index 4294967295 beyond the pickle's size"},
      {proto + "N", "it ends inside an instruction"},
      {proto + "X\xff\xff\xff\x7f" + "ab", "it ends inside an instruction"},
      {proto + "ctorch.FloatStorage", "a GLOBAL name without its newline"},
      {proto + "(K\x01" + "d.", "a dict key without a value"},
      {proto + "N(\x81t.", "a MARK above the stack's top"},
      {proto + "t.", "needs a MARK and there is none"},
      {proto + "R.", "takes a value from an empty stack"},
      {proto + "K\x01Q.", "a persistent id that is not ('storage'"},
      {tensor_pickle(-1, 0, {1}, {1}), "a storage of -1 elements"},
      {tensor_pickle(4, 0, {1}, {1}, "Quux"), "a storage of a type LibTorch does not know"},
      {proto + "\x8a\x09" + std::string(9, '\0') + ".", "a LONG1 of 9 bytes"},
      {proto + ")" + std::string(5000, '\x85') + ".", "values nested deeper than 1000"},
      {proto + repeated("](", 1500) + "]" + std::string(1500, 'e') + ".", "values nested deeper"},
  };
  for (const auto& [pickle, expected] : cases) {
    const auto message = defect_of([&] { walk(pickle); });
    EXPECT_NE(message.find(expected), std::string::npos) << message << "\nexpected: " << expected;
    EXPECT_EQ(message.rfind("data.pkl ", 0), 0u) << message;
  }
}

TEST(ArchiveCheck, StorageElementSizesAreLibTorchs) {
#define REPLICASCOPE_CHECK_SIZE(_, name)                                   \
  EXPECT_EQ(rs::storage_element_size(#name),                               \
            static_cast<int64_t>(c10::elementSize(c10::ScalarType::name))) \
      << #name;
  AT_FORALL_SCALAR_TYPES_WITH_COMPLEX_AND_QINTS(REPLICASCOPE_CHECK_SIZE)
#undef REPLICASCOPE_CHECK_SIZE
  EXPECT_EQ(rs::storage_element_size("Tensor"), 0);
}

TEST(ArchiveCheck, ZipDirectorySizesAreWhatLibTorchReads) {
  for (const auto* model : {"mlp.pt", "constant_tensors.pt", "truncated_record.pt"}) {
    SCOPED_TRACE(model);
    const auto entries = rs::read_zip_directory(fixture(model));
    caffe2::serialize::PyTorchStreamReader reader(fixture(model));
    ASSERT_EQ(entries.size(), reader.getAllRecords().size());
    for (const auto& entry : entries) {
      const auto name = entry.name.substr(entry.name.find('/') + 1);
      EXPECT_EQ(entry.size, std::get<1>(reader.getRecord(name))) << entry.name;
    }
  }
}

TEST(ArchiveCheck, ZipDirectoryPromisesAreChecked) {
  // A stored record that claims more bytes than it has (LibTorch would allocate them).
  const auto larger = patched_copy(
      "mlp.pt", "mlp/data/1", [](std::string& b, size_t at) { put_le32(b, at + 24, 1u << 30); });
  EXPECT_NE(defect_of([&] {
              rs::read_zip_directory(larger);
            }).find("the record 'mlp/data/1' is stored but declares 1073741824 bytes from 128"),
            std::string::npos);
  // A deflated record that claims more than deflate can give.
  const auto bomb = patched_copy("mlp.pt", "mlp/data/1", [](std::string& b, size_t at) {
    b[at + 10] = 8;
    put_le32(b, at + 24, 1u << 30);
  });
  EXPECT_NE(defect_of([&] { rs::read_zip_directory(bomb); }).find("more than deflate can give"),
            std::string::npos);
  // Two names that differ only in case: miniz would pick either.
  const auto twice = patched_copy("mlp.pt", "mlp/data/1", [](std::string& b, size_t at) {
    b.replace(at + 46, 10, "MLP/DATA/0");
  });
  EXPECT_NE(defect_of([&] {
              rs::read_zip_directory(twice);
            }).find("the record 'mlp/data/0' is there twice"),
            std::string::npos);
  // A record whose data would lie past the end of the file.
  const auto beyond = patched_copy(
      "mlp.pt", "mlp/data/1", [](std::string& b, size_t at) { put_le32(b, at + 42, 0x7fffffff); });
  EXPECT_NE(defect_of([&] { rs::read_zip_directory(beyond); }).find("lies past the end"),
            std::string::npos);
  // Half a file has no end record.
  EXPECT_NE(
      defect_of([] { rs::read_zip_directory(fixture("truncated.pt")); }).find("no zip end record"),
      std::string::npos);
}

TEST(ArchiveCheck, DamagedRecordsFailTheirChecksum) {
  for (const auto* model : {"mlp.pt", "constant_tensors.pt", "truncated_record.pt"}) {
    rs::check_record_checksums(fixture(model), rs::read_zip_directory(fixture(model)));
  }
  // One byte of a stored tensor record changed: LibTorch (miniz built without CRC checks) would
  // load the wrong weight.
  const auto flipped = patched_copy("mlp.pt", "mlp/data/1", [](std::string& b, size_t at) {
    const auto little = [&](size_t i, int n) {
      size_t v = 0;
      for (int k = n - 1; k >= 0; --k) v = (v << 8) | static_cast<uint8_t>(b[i + k]);
      return v;
    };
    const size_t local = little(at + 42, 4);
    b[local + 30 + little(local + 26, 2) + little(local + 28, 2) + 5] ^= 0x10;
  });
  EXPECT_NE(defect_of([&] {
              rs::check_record_checksums(flipped, rs::read_zip_directory(flipped));
            }).find("the record 'mlp/data/1' does not match its checksum (CRC-32 "),
            std::string::npos);
  // A deflated record (the code is compressed) whose checksum does not match.
  const auto code = patched_copy("mlp.pt", "mlp/code/__torch__.py",
                                 [](std::string& b, size_t at) { b[at + 16] ^= 1; });
  EXPECT_NE(defect_of([&] {
              rs::check_record_checksums(code, rs::read_zip_directory(code));
            }).find("the record 'mlp/code/__torch__.py' does not match its checksum"),
            std::string::npos);
}
