// SPDX-License-Identifier: MIT
// CallbackContext: the object that the copies of one module share during replication.
#pragma once

#include <any>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <unordered_map>
#include <vector>

namespace torch::nn {
class Module;
}

namespace replicascope {

// One replication callback as it ran: which copy, and its place in the global call order.
struct CallbackCall {
  int copy_id = 0;
  int order = 0;  // 0 for the first callback of the whole replication, then 1, 2, ...
};

// One context per module index (module order of the master copy). Every copy of that module
// gets the same context, so the master copy can leave state in it (a SyncMaster, say) that the
// other copies pick up. Typed storage: values are kept as shared_ptr<T> under a key, and reading
// one back as another type is a clear error rather than undefined behaviour.
class CallbackContext {
 public:
  CallbackContext(int id, std::string module_name, std::string module_type)
      : id_(id), module_name_(std::move(module_name)), module_type_(std::move(module_type)) {}

  // The context id: the module's index in module order.
  int id() const { return id_; }
  // Qualified name of the module in the master copy ("" for the root) and its type name.
  const std::string& module_name() const { return module_name_; }
  const std::string& module_type() const { return module_type_; }

  template <class T>
  void put(const std::string& key, std::shared_ptr<T> value) {
    std::lock_guard<std::mutex> lock(mutex_);
    values_[key] = std::move(value);
  }

  bool contains(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return values_.count(key) != 0;
  }

  // The value under `key`; throws std::out_of_range if it is missing and std::invalid_argument
  // if it was stored as another type.
  template <class T>
  std::shared_ptr<T> get(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = values_.find(key);
    if (it == values_.end()) {
      throw std::out_of_range(describe() + ": no value under key '" + key + "'");
    }
    if (auto* value = std::any_cast<std::shared_ptr<T>>(&it->second)) return *value;
    throw std::invalid_argument(describe() + ": value under key '" + key + "' is a " +
                                it->second.type().name() + ", not a shared_ptr<" +
                                typeid(T).name() + ">");
  }

  // The module that was replicated (the origin of every copy of this module), when the
  // replicator knows it; null otherwise. Synchronized layers update running statistics there.
  std::shared_ptr<torch::nn::Module> origin() const { return origin_; }
  void set_origin(std::shared_ptr<torch::nn::Module> origin) { origin_ = std::move(origin); }

  // The callbacks that ran with this context, in the order they ran.
  std::vector<CallbackCall> calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }
  void record_call(CallbackCall call) {
    std::lock_guard<std::mutex> lock(mutex_);
    calls_.push_back(call);
  }

 private:
  std::string describe() const {
    return "CallbackContext " + std::to_string(id_) + " ('" + module_name_ + "')";
  }

  int id_;
  std::string module_name_;
  std::string module_type_;
  std::shared_ptr<torch::nn::Module> origin_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::any> values_;
  std::vector<CallbackCall> calls_;
};

}  // namespace replicascope
