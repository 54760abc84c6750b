// SPDX-License-Identifier: MIT
// A walk over a TorchScript pickle (data.pkl, constants.pkl) that finds the tensor storages it
// declares and the tensor views over them. It follows the stack effects of LibTorch 1.13's
// Unpickler (torch/csrc/jit/serialization/unpickler.cpp) for the opcodes that Unpickler reads and
// refuses the rest. Values are shared, never copied, so memory stays linear in the pickle's size.
#include <algorithm>
#include <memory>
#include <unordered_map>

#include "archive_check.h"

namespace replicascope::script {
namespace {

struct Value;
using Items = std::vector<Value>;

// What the walk needs to know of a value: integers, strings, globals, tuples and storages; the
// rest (floats, lists, dicts, objects, tensors) is `other`.
struct Value {
  enum class Kind { other, integer, string, global, tuple, storage } kind = Kind::other;
  int64_t integer = 0;
  std::shared_ptr<const std::string> text;  // a string; a global's "module\nname"
  std::shared_ptr<const Items> items;       // a tuple
  std::shared_ptr<const StorageRecord> storage;
  int depth = 0;  // of containers in containers: their destructors recurse
};

// TorchScript nests values a few dozen deep (modules in modules, lists in type tags); a pickle of
// a million TUPLE1s would overflow the stack when its values are freed, here and in LibTorch.
constexpr int kMostNesting = 1000;

int deepest(const Items& items) {
  int depth = 0;
  for (const auto& item : items) depth = std::max(depth, item.depth);
  return depth;
}

class Walk {
 public:
  Walk(const char* bytes, size_t size, const std::string& name)
      : bytes_(reinterpret_cast<const uint8_t*>(bytes)), size_(size), name_(name) {}

  std::vector<StorageRecord> run();

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw ArchiveDefect(name_ + " is malformed at byte " + std::to_string(opcode_at_) + ": " +
                        what + "; expected a pickle written by torch.jit.save");
  }
  const uint8_t* take(size_t n) {
    if (n > size_ - at_) fail("it ends inside an instruction");
    at_ += n;
    return bytes_ + at_ - n;
  }
  uint64_t unsigned_le(size_t n) {
    const uint8_t* p = take(n);
    uint64_t value = 0;
    for (size_t i = n; i-- > 0;) value = (value << 8) | p[i];
    return value;
  }
  std::string line() {
    size_t end = at_;
    while (end < size_ && bytes_[end] != '\n') ++end;
    if (end == size_) fail("a GLOBAL name without its newline");
    std::string text(reinterpret_cast<const char*>(bytes_ + at_), end - at_);
    at_ = end + 1;
    return text;
  }
  void push(Value value) { stack_.push_back(std::move(value)); }
  Value pop() {
    if (stack_.empty()) fail("an instruction takes a value from an empty stack");
    Value value = std::move(stack_.back());
    stack_.pop_back();
    return value;
  }
  // The values since the last MARK (LibTorch keeps marks apart from the stack, and would index
  // past it for a mark above the stack's top).
  Items pop_marked() {
    if (marks_.empty()) fail("an instruction needs a MARK and there is none");
    const size_t mark = marks_.back();
    marks_.pop_back();
    if (mark > stack_.size()) fail("a MARK above the stack's top");
    Items items(std::make_move_iterator(stack_.begin() + mark),
                std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return items;
  }
  static Value other() { return Value{}; }
  static Value integer(int64_t v) { return Value{Value::Kind::integer, v, {}, {}, {}, 0}; }
  static Value text(Value::Kind kind, std::string s) {
    return Value{kind, 0, std::make_shared<const std::string>(std::move(s)), {}, {}, 0};
  }
  // `value`, made of parts as deep as `parts`: one level deeper.
  Value nested(Value value, int parts) const {
    if (parts >= kMostNesting) fail("values nested deeper than " + std::to_string(kMostNesting));
    value.depth = std::max(value.depth, parts + 1);
    return value;
  }
  Value tuple(Items items) const {
    const int parts = deepest(items);
    return nested(
        Value{Value::Kind::tuple, 0, {}, std::make_shared<const Items>(std::move(items)), {}, 0},
        parts);
  }
  // Adds parts as deep as `parts` to the list, dict or object below them on the stack.
  void add_to_top(int parts, const char* what) {
    if (stack_.empty()) fail(std::string(what) + " with nothing to add to");
    stack_.back() = nested(std::move(stack_.back()), parts);
  }
  bool literal(uint8_t opcode);
  bool bookkeeping(uint8_t opcode);
  bool building(uint8_t opcode);
  bool calling(uint8_t opcode);
  void memo_put(uint64_t index);
  Value storage(const Value& id);
  void check_view(const Value& args);

  const uint8_t* bytes_;
  size_t size_, at_ = 0, opcode_at_ = 0;
  std::string name_;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value> memo_;
  std::vector<StorageRecord> storages_;
};

std::vector<StorageRecord> Walk::run() {
  if (size_ < 2 || bytes_[0] != 0x80) {
    throw ArchiveDefect(name_ + " does not start with a pickle's PROTO instruction");
  }
  at_ = 2;
  while (true) {
    opcode_at_ = at_;
    const uint8_t opcode = *take(1);
    if (opcode == '.') return storages_;  // STOP
    if (!literal(opcode) && !bookkeeping(opcode) && !building(opcode) && !calling(opcode)) {
      static const char kHex[] = "0123456789abcdef";
      fail(std::string("an instruction LibTorch's unpickler does not read (opcode 0x") +
           kHex[opcode >> 4] + kHex[opcode & 15] + ")");
    }
  }
}

void Walk::memo_put(uint64_t index) {
  // LibTorch's memo is a vector grown to the index: a huge index would take all memory.
  if (index > size_) fail("memo index " + std::to_string(index) + " beyond the pickle's size");
  if (stack_.empty()) fail("a memo PUT with an empty stack");
  memo_[index] = stack_.back();
}

// Instructions that push one value read from the pickle; false for any other opcode.
bool Walk::literal(uint8_t opcode) {
  switch (opcode) {
    case ']':   // EMPTY_LIST
    case '}':   // EMPTY_DICT
    case 'N':   // NONE
    case 0x88:  // NEWTRUE
    case 0x89:  // NEWFALSE
      push(other());
      return true;
    case ')':  // EMPTY_TUPLE
      push(tuple({}));
      return true;
    case 'G':  // BINFLOAT
      take(8);
      push(other());
      return true;
    case 'K':  // BININT1
    case 'M':  // BININT2
      push(integer(static_cast<int64_t>(unsigned_le(opcode == 'K' ? 1 : 2))));
      return true;
    case 'J':  // BININT
      push(integer(static_cast<int32_t>(unsigned_le(4))));
      return true;
    case 0x8a: {  // LONG1: little-endian two's complement; LibTorch writes 8 bytes
      const auto n = unsigned_le(1);
      if (n > 8) fail("a LONG1 of " + std::to_string(n) + " bytes (at most 8 fit an int64)");
      uint64_t value = n ? unsigned_le(n) : 0;
      if (n > 0 && n < 8 && (value >> (8 * n - 1))) value |= ~uint64_t{0} << (8 * n);
      push(integer(static_cast<int64_t>(value)));
      return true;
    }
    case 'X':    // BINUNICODE
    case 'U': {  // SHORT_BINSTRING
      const auto n = unsigned_le(opcode == 'X' ? 4 : 1);
      const uint8_t* p = take(n);
      push(text(Value::Kind::string, std::string(reinterpret_cast<const char*>(p), n)));
      return true;
    }
    case 'c': {  // GLOBAL
      auto module = line();
      push(text(Value::Kind::global, module + "\n" + line()));
      return true;
    }
    default:
      return false;
  }
}

// The memo and the marks; false for any other opcode.
bool Walk::bookkeeping(uint8_t opcode) {
  switch (opcode) {
    case '(':  // MARK
      marks_.push_back(stack_.size());
      return true;
    case 'q':  // BINPUT
    case 'r':  // LONG_BINPUT
      memo_put(unsigned_le(opcode == 'q' ? 1 : 4));
      return true;
    case 'h':    // BINGET
    case 'j': {  // LONG_BINGET
      const auto index = unsigned_le(opcode == 'h' ? 1 : 4);
      const auto found = memo_.find(index);
      if (found == memo_.end()) fail("memo entry " + std::to_string(index) + " was never stored");
      push(found->second);
      return true;
    }
    default:
      return false;
  }
}

// Instructions that build values from the stack; false for any other opcode.
bool Walk::building(uint8_t opcode) {
  switch (opcode) {
    case 't':  // TUPLE
      push(tuple(pop_marked()));
      return true;
    case 0x85:    // TUPLE1
    case 0x86:    // TUPLE2
    case 0x87: {  // TUPLE3
      Items items(opcode - 0x84);
      for (size_t i = items.size(); i-- > 0;) items[i] = pop();
      push(tuple(std::move(items)));
      return true;
    }
    case 'l':    // LIST
    case 'd':    // DICT
    case 'e':    // APPENDS (onto the list below the mark)
    case 'u': {  // SETITEMS (into the dict below the mark)
      const auto items = pop_marked();
      // LibTorch reads keys and values in pairs, past the stack's end for an odd count.
      if ((opcode == 'd' || opcode == 'u') && items.size() % 2) fail("a dict key without a value");
      if (opcode == 'l' || opcode == 'd') {
        push(nested(other(), deepest(items)));
      } else {
        add_to_top(deepest(items), opcode == 'e' ? "APPENDS" : "SETITEMS");
      }
      return true;
    }
    case 's': {  // SETITEM
      const auto value = pop(), key = pop();
      add_to_top(std::max(key.depth, value.depth), "SETITEM");
      return true;
    }
    default:
      return false;
  }
}

// Instructions that call something; false for any other opcode.
bool Walk::calling(uint8_t opcode) {
  switch (opcode) {
    case 0x81:  // NEWOBJ: LibTorch drops the (empty) arguments and keeps the class
      pop();
      return true;
    case 'b':    // BUILD
    case 'R': {  // REDUCE
      const auto args = pop();
      const auto callee = pop();
      if (callee.kind == Value::Kind::global &&
          (*callee.text == "torch._utils\n_rebuild_tensor_v2" ||
           *callee.text == "torch._utils\n_rebuild_qtensor")) {
        check_view(args);
      }
      push(nested(other(), std::max(args.depth, callee.depth)));
      return true;
    }
    case 'Q':  // BINPERSID
      push(storage(pop()));
      return true;
    default:
      return false;
  }
}

// LibTorch's persistent id of a storage: ('storage', torch.<Type>Storage, key, device, elements).
Value Walk::storage(const Value& id) {
  const Items* items = id.kind == Value::Kind::tuple ? id.items.get() : nullptr;
  auto is = [&](size_t i, Value::Kind kind) { return (*items)[i].kind == kind; };
  if (!items || items->size() != 5 || !is(0, Value::Kind::string) ||
      *(*items)[0].text != "storage" || !is(1, Value::Kind::global) ||
      !is(2, Value::Kind::string) || !is(3, Value::Kind::string) || !is(4, Value::Kind::integer)) {
    fail("a persistent id that is not ('storage', torch.<type>Storage, key, device, size)");
  }
  const std::string& global = *(*items)[1].text;
  const std::string module = "torch\n", suffix = "Storage";
  std::string type;
  if (global.size() > module.size() + suffix.size() && global.compare(0, 6, module) == 0 &&
      global.compare(global.size() - suffix.size(), suffix.size(), suffix) == 0) {
    type = global.substr(module.size(), global.size() - module.size() - suffix.size());
  }
  const int64_t element_size = storage_element_size(type);
  if (element_size == 0) fail("a storage of a type LibTorch does not know");
  const int64_t elements = (*items)[4].integer;
  if (elements < 0 || elements > INT64_MAX / element_size) {
    fail("a storage of " + std::to_string(elements) + " elements");
  }
  auto record = std::make_shared<const StorageRecord>(
      StorageRecord{*(*items)[2].text, type, elements, element_size});
  storages_.push_back(*record);
  return Value{Value::Kind::storage, 0, {}, {}, record, 0};
}

std::string integers_text(const Items& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + std::to_string(item.integer);
  return "(" + out + ")";
}

// _rebuild_tensor_v2(storage, offset, sizes, strides, ...): LibTorch sets the view without
// checking it against the storage, and a view past its end reads past the record.
void Walk::check_view(const Value& args) {
  using Kind = Value::Kind;
  if (args.kind != Kind::tuple || args.items->size() < 4) return;  // LibTorch refuses these
  const auto& a = *args.items;
  if (a[0].kind != Kind::storage || a[1].kind != Kind::integer || a[2].kind != Kind::tuple ||
      a[3].kind != Kind::tuple) {
    return;
  }
  const auto &sizes = *a[2].items, &strides = *a[3].items;
  if (sizes.size() != strides.size()) fail("a tensor with more sizes than strides, or fewer");
  bool empty = false;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i].kind != Kind::integer || strides[i].kind != Kind::integer) return;
    if (sizes[i].integer < 0 || strides[i].integer < 0) fail("a negative tensor size or stride");
    empty = empty || sizes[i].integer == 0;
  }
  if (a[1].integer < 0) fail("a tensor at a negative storage offset");
  if (empty) return;
  int64_t last = a[1].integer, span = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (__builtin_mul_overflow(sizes[i].integer - 1, strides[i].integer, &span) ||
        __builtin_add_overflow(last, span, &last)) {
      fail("a tensor view beyond 2^63 elements");
    }
  }
  const auto& storage = *a[0].storage;
  if (last >= storage.elements) {
    fail("a tensor of sizes " + integers_text(sizes) + ", strides " + integers_text(strides) +
         " at offset " + std::to_string(a[1].integer) + " reaches element " + std::to_string(last) +
         " of storage '" + storage.key + "', which holds " + std::to_string(storage.elements));
  }
}

}  // namespace

int64_t storage_element_size(const std::string& type) {
  // AT_FORALL_SCALAR_TYPES_WITH_COMPLEX_AND_QINTS of LibTorch 1.13, whose storages its
  // unpickler knows (a test holds this to c10::elementSize).
  static const std::unordered_map<std::string, int64_t> sizes = {
      {"Byte", 1},        {"Char", 1},         {"Short", 2},          {"Int", 4},
      {"Long", 8},        {"Half", 2},         {"Float", 4},          {"Double", 8},
      {"ComplexHalf", 4}, {"ComplexFloat", 8}, {"ComplexDouble", 16}, {"Bool", 1},
      {"QInt8", 1},       {"QUInt8", 1},       {"QInt32", 4},         {"BFloat16", 2},
      {"QUInt4x2", 1},    {"QUInt2x4", 1}};
  const auto found = sizes.find(type);
  return found == sizes.end() ? 0 : found->second;
}

std::vector<StorageRecord> storages_in_pickle(const char* bytes, size_t size,
                                              const std::string& name) {
  return Walk(bytes, size, name).run();
}

}  // namespace replicascope::script
