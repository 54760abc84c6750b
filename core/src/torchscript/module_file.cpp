// SPDX-License-Identifier: MIT
#include "replicascope/torchscript/module_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "archive_check.h"
#include "replicascope/base/describe_error.h"
#include "replicascope/base/file_checks.h"

namespace replicascope::script {
namespace {

std::string dtype_name(const torch::Tensor& t) {
  return std::string(c10::toString(t.scalar_type()));
}

// The tensors of a named_parameters() or named_buffers() list, and their element count.
template <class NamedTensors>
std::vector<TensorInfo> tensors_of(const NamedTensors& list, int64_t* elements = nullptr) {
  std::vector<TensorInfo> out;
  for (const auto& item : list) {
    out.push_back({item.name, item.value.sizes().vec(), dtype_name(item.value)});
    if (elements) *elements += item.value.numel();
  }
  return out;
}

}  // namespace

std::string canonical_type(const std::string& qualified_name) {
  static const std::regex mangle(R"(___torch_mangle_\d+\.)");
  auto name = std::regex_replace(qualified_name, mangle, "");
  const std::string prefix = "__torch__.";
  if (name.compare(0, prefix.size(), prefix) == 0) name = name.substr(prefix.size());
  return name;
}

std::string readable_type(const std::string& qualified_name) {
  const auto canonical = canonical_type(qualified_name);
  const auto dot = canonical.rfind('.');
  return dot == std::string::npos ? canonical : canonical.substr(dot + 1);
}

std::optional<BatchNormInfo> batch_norm_info(const torch::jit::Module& module) {
  const auto& name = module.type()->name();
  const auto canonical = canonical_type(name ? name->qualifiedName() : "");
  static const std::map<std::string, int> kinds = {{"torch.nn.modules.batchnorm.BatchNorm1d", 1},
                                                   {"torch.nn.modules.batchnorm.BatchNorm2d", 2},
                                                   {"torch.nn.modules.batchnorm.BatchNorm3d", 3}};
  const auto kind = kinds.find(canonical);
  if (kind == kinds.end()) return std::nullopt;
  const auto type = module.type();
  // In TorchScript, eps, momentum, affine, num_features and track_running_stats are constants
  // of the class type (BatchNorm's __constants__), not attributes of the instance.
  auto constant = [&](const char* name) -> c10::IValue {
    if (type->hasConstant(name)) return type->getConstant(name);
    if (module.hasattr(name)) return module.attr(name);
    return c10::IValue();
  };
  BatchNormInfo info;
  info.dims = kind->second;
  if (auto v = constant("num_features"); v.isInt()) info.num_features = v.toInt();
  if (auto v = constant("eps"); v.isDouble()) info.eps = v.toDouble();
  if (auto v = constant("momentum"); v.isDouble()) info.momentum = v.toDouble();
  if (auto v = constant("affine"); v.isBool()) info.affine = v.toBool();
  if (auto v = constant("track_running_stats"); v.isBool()) info.track_running_stats = v.toBool();
  return info;
}

namespace {

// The file is one LibTorch can read without blocking or guessing: a regular file (opening a FIFO
// waits for a writer), readable, and beginning as a zip archive does.
void check_model_file(const std::string& path) {
  namespace fs = std::filesystem;
  const auto where = "model '" + path + "': ";
  const auto kind = not_a_regular_file(path);  // follows symbolic links
  if (kind == "no such file" || kind.rfind("cannot", 0) == 0) throw ModelLoadError(where + kind);
  if (!kind.empty()) {
    throw ModelLoadError(where + "is " + kind + ", expected a regular TorchScript .pt file");
  }
  std::error_code error;
  const auto size = fs::file_size(path, error);
  const std::string expected =
      "expected a TorchScript archive (a zip file written by torch.jit.save)";
  if (!error && size == 0) throw ModelLoadError(where + "is empty (0 bytes), " + expected);
  if (::access(path.c_str(), R_OK) != 0) {
    throw ModelLoadError(where + "cannot read it (" + std::strerror(errno) + "), " + expected);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelLoadError(where + "cannot open it (" + std::strerror(errno) + ")");
  char magic[4] = {};
  if (!in.read(magic, 4)) {
    throw ModelLoadError(where + "is " + std::to_string(in.gcount()) + " bytes long, " + expected);
  }
  if (!(magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4)) {
    throw ModelLoadError(where +
                         "not a zip archive; expected a TorchScript file written by "
                         "torch.jit.save or torch.jit.script(model).save");
  }
}

}  // namespace

torch::jit::Module load_module(const std::string& path) {
  check_model_file(path);
  const auto where = "model '" + path + "': ";
  const auto damaged = [&] {
    return ModelLoadError(where + "a damaged or truncated archive (" +
                          describe(std::current_exception()) + ")");
  };
  std::vector<ZipEntry> entries;
  try {
    entries = read_zip_directory(path);
  } catch (const std::exception&) {
    throw damaged();
  }
  bool has_code = false;  // a code/ folder in the archive's folder
  for (const auto& entry : entries) {
    const auto slash = entry.name.find('/');
    has_code =
        has_code || (slash != std::string::npos && entry.name.compare(slash, 6, "/code/") == 0);
  }
  if (!has_code) {
    throw ModelLoadError(where +
                         "a PyTorch archive without TorchScript code (saved with torch.save, "
                         "not torch.jit.save?); expected a scripted or traced module");
  }
  try {
    check_record_checksums(path, entries);
    check_tensor_records(path, entries);
  } catch (const ArchiveDefect& defect) {
    throw ModelLoadError(where + defect.what());
  } catch (const std::exception&) {
    throw damaged();
  }
  try {
    return torch::jit::load(path, torch::kCPU);
  } catch (const std::exception&) {
    throw ModelLoadError(where + "not a loadable TorchScript module (" +
                         describe(std::current_exception()) + ")");
  }
}

std::vector<ModuleInfo> inspect(const torch::jit::Module& root) {
  std::vector<ModuleInfo> out;
  for (const auto& item : root.named_modules()) {
    ModuleInfo info;
    info.name = item.name;
    info.depth = item.name.empty()
                     ? 0
                     : 1 + static_cast<int>(std::count(item.name.begin(), item.name.end(), '.'));
    const auto type = item.value.type();
    info.full_type = type->name() ? type->name()->qualifiedName() : "";
    info.type = readable_type(info.full_type);
    info.parameters =
        tensors_of(item.value.named_parameters(/*recurse=*/false), &info.own_parameter_count);
    info.buffers = tensors_of(item.value.named_buffers(/*recurse=*/false));
    for (const auto& p : item.value.named_parameters(/*recurse=*/true)) {
      info.subtree_parameter_count += p.value.numel();
    }
    info.batch_norm = batch_norm_info(item.value);
    info.receives_callbacks = info.batch_norm.has_value();
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace replicascope::script
