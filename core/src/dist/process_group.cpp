// SPDX-License-Identifier: MIT
#include "replicascope/dist/process_group.h"

// The Gloo process group is declared only under this macro, which Debian's LibTorch was built
// with (its library holds ProcessGroupGloo) but does not export to users.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "backend.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "replicascope/base/describe_error.h"

namespace replicascope::dist {
namespace {

const char* const kHint = " (torchrun and `replicascope-cli launch` set it)";

std::string variable(const char* name, bool required) {
  const char* value = std::getenv(name);
  if (!value || !*value) {
    if (required)
      throw DistError(std::string("environment variable ") + name + " is not set" + kHint);
    return {};
  }
  return value;
}

int integer(const char* name, const std::string& text, long low, long high) {
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || value < low || value > high) {
    throw DistError(std::string("environment variable ") + name + "='" + text +
                    "': expected a whole number from " + std::to_string(low) + " to " +
                    std::to_string(high));
  }
  return static_cast<int>(value);
}

// "key=value" lines; the world size first.
std::string settings_text(int world_size, const Settings& settings) {
  std::string text = "WORLD_SIZE=" + std::to_string(world_size) + "\n";
  for (const auto& [name, value] : settings) text += name + "=" + value + "\n";
  return text;
}

std::vector<std::pair<std::string, std::string>> settings_lines(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    const auto line = text.substr(start, end - start);
    const auto equals = line.find('=');
    out.emplace_back(line.substr(0, equals),
                     equals == std::string::npos ? "" : line.substr(equals + 1));
  }
  return out;
}

// Empty when `a` and `b` agree; else which setting differs and both values, by name (a setting
// one rank lacks reads "(not given)").
std::string first_difference(const std::string& a, int rank_a, const std::string& b, int rank_b) {
  const auto la = settings_lines(a), lb = settings_lines(b);
  auto value_in = [](const std::vector<std::pair<std::string, std::string>>& lines,
                     const std::string& name) -> std::string {
    for (const auto& [n, v] : lines) {
      if (n == name) return v;
    }
    return "(not given)";
  };
  for (const auto* lines : {&la, &lb}) {
    for (const auto& [name, value] : *lines) {
      const auto va = value_in(la, name), vb = value_in(lb, name);
      if (va != vb) {
        return name + ": rank " + std::to_string(rank_a) + " has " + va + ", rank " +
               std::to_string(rank_b) + " has " + vb;
      }
    }
  }
  return "";
}

// Before the backend's own rendezvous, which aborts the process on a WORLD_SIZE that differs
// and pairs mismatched collectives silently: every rank publishes its settings in the store and
// compares every other rank's, in rank order, with rank 0's. Every rank so reaches the same
// verdict and names the same setting; a rank stops at the first difference it sees, so a rank
// that expects more ranks than there are does not wait for them.
void agree_on_settings(c10d::Store& store, const Environment& env, const Settings& settings) {
  const auto key = [](int rank) { return "replicascope/settings/" + std::to_string(rank); };
  const auto mine = settings_text(env.world_size, settings);
  store.set(key(env.rank), std::vector<uint8_t>(mine.begin(), mine.end()));
  const auto text_of = [&](int rank) {
    const auto bytes = store.get(key(rank));
    return std::string(bytes.begin(), bytes.end());
  };
  const auto first = text_of(0);
  for (int rank = 0; rank < env.world_size; ++rank) {
    const auto theirs = rank == env.rank ? mine : text_of(rank);
    const auto difference = first_difference(first, 0, theirs, rank);
    if (!difference.empty()) {
      throw DistError("the ranks were started with different settings (" + difference +
                      "); expected the same on every rank");
    }
  }
}

}  // namespace

int free_local_port() {
  // Port 0 lets the kernel choose; the port is free again once the probe closes.
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 29500;
  if (probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  if (probe >= 0) ::close(probe);
  return port;
}

bool Environment::present() {
  const char* world = std::getenv("WORLD_SIZE");
  return world && *world;
}

Environment Environment::from_environment() {
  Environment env;
  env.world_size = integer("WORLD_SIZE", variable("WORLD_SIZE", true), 1, 1 << 16);
  env.rank = integer("RANK", variable("RANK", true), 0, env.world_size - 1);
  const auto local = variable("LOCAL_RANK", false);
  env.local_rank = local.empty() ? env.rank : integer("LOCAL_RANK", local, 0, env.world_size - 1);
  env.master_addr = variable("MASTER_ADDR", true);
  env.master_port = integer("MASTER_PORT", variable("MASTER_PORT", true), 1, 65535);
  return env;
}

bool ProcessGroup::has_nccl() {
#ifdef REPLICASCOPE_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

namespace {

// `t` where the backend wants it: itself when it is there already, else a copy.
torch::Tensor staged(const torch::Tensor& t, const torch::Device& device) {
  return t.device() == device ? t : t.to(device);
}

}  // namespace

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl, int rank, int size,
                           std::chrono::milliseconds timeout)
    : impl_(std::move(impl)), rank_(rank), size_(size), timeout_(timeout) {}

ProcessGroup::~ProcessGroup() = default;

std::shared_ptr<ProcessGroup> ProcessGroup::join(const Environment& env,
                                                 std::chrono::milliseconds timeout, Backend backend,
                                                 const Settings& settings) {
  if (backend == Backend::kNccl && !has_nccl()) {
    throw DistError(
        "this build has no NCCL backend (it needs LibTorch with CUDA, and nccl.h when building); "
        "use Gloo");
  }
  std::unique_ptr<Impl> impl;
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = static_cast<std::size_t>(env.world_size);
    // agree_on_settings waits for every rank instead, and names a WORLD_SIZE that differs
    // rather than waiting for ranks that will never come.
    store_options.waitWorkers = false;
    store_options.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> store =
        c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    try {
      agree_on_settings(*store, env, settings);
    } catch (const DistError& e) {
      throw DistError("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                      ": " + e.what());
    }
    if (backend == Backend::kNccl) {
#ifdef REPLICASCOPE_HAVE_NCCL
      impl = make_nccl(std::move(store), env, timeout);
#endif
    } else {
      auto options = c10d::ProcessGroupGloo::Options::create();
      options->timeout = timeout;
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      impl = std::make_unique<GroupPair<c10d::ProcessGroupGloo>>(std::move(store), env.rank,
                                                                 env.world_size, options);
      impl->name = "gloo";
    }
  } catch (const DistError&) {
    throw;
  } catch (const std::exception& e) {
    throw DistError("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                    " could not join the " + (backend == Backend::kNccl ? "NCCL" : "Gloo") +
                    " process group at " + env.master_addr + ":" + std::to_string(env.master_port) +
                    " within " + std::to_string(timeout.count()) +
                    " ms: " + describe(std::current_exception()));
  }
  return std::shared_ptr<ProcessGroup>(
      new ProcessGroup(std::move(impl), env.rank, env.world_size, timeout));
}

void ProcessGroup::fail(const std::string& what) const {
  throw DistError("rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " + what +
                  " failed (another rank died, or stopped calling, within " +
                  std::to_string(timeout_.count()) + " ms): " + describe(std::current_exception()));
}

const std::string& ProcessGroup::backend_name() const {
  return impl_->name;
}

void ProcessGroup::all_reduce_sum(torch::Tensor& values, const std::string& what) {
  try {
    std::vector<torch::Tensor> tensors{staged(values, impl_->device)};
    impl_->allreduce(tensors, /*gradients=*/false)->wait(timeout_);
    if (!tensors[0].is_same(values)) values.copy_(tensors[0]);
  } catch (const std::exception&) {
    fail(what);
  }
}

std::vector<torch::Tensor> ProcessGroup::all_gather(const torch::Tensor& values,
                                                    const std::string& what) {
  std::vector<torch::Tensor> in{staged(values, impl_->device)};
  std::vector<std::vector<torch::Tensor>> out(1);
  for (int r = 0; r < size_; ++r) out[0].push_back(torch::empty_like(in[0]));
  try {
    impl_->allgather(out, in)->wait(timeout_);
  } catch (const std::exception&) {
    fail(what);
  }
  for (auto& t : out[0]) t = t.to(values.device());
  return out[0];
}

void ProcessGroup::barrier(const std::string& what) {
  try {
    impl_->barrier()->wait(timeout_);
  } catch (const std::exception&) {
    fail(what);
  }
}

ProcessGroup::Wait ProcessGroup::start_gradient_sum(torch::Tensor values, const std::string& what) {
  try {
    std::vector<torch::Tensor> tensors{staged(values, impl_->device)};
    auto work = impl_->allreduce(tensors, /*gradients=*/true);
    // The work holds its tensor until it completes; the caller holds the work through Wait.
    return [this, work, what, values, sum = tensors[0]]() mutable {
      try {
        work->wait(timeout_);
        if (!sum.is_same(values)) values.copy_(sum);
      } catch (const std::exception&) {
        fail(what);
      }
    };
  } catch (const std::exception&) {
    fail(what);
  }
}

}  // namespace replicascope::dist
