#include "training/distributed.h"

#include <fmt/format.h>
#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/logging.h"
#include "core/timing.h"

namespace adascale::training {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(int64_t(std::llround(seconds * 1000.0)));
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

/// A non-negative integer variable, or nullopt when unset.
std::optional<int64_t> read_int(
    const std::function<const char*(const char*)>& getenv, const char* name,
    int64_t lo, int64_t hi) {
  const char* raw = getenv(name);
  if (raw == nullptr) return std::nullopt;
  const std::string text(raw);
  size_t used = 0;
  int64_t value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || value < lo || value > hi) {
    throw ConfigError(
        fmt::format("environment: {}={}: expected an integer in [{}, {}]", name,
                    text, lo, hi));
  }
  return value;
}

std::vector<uint8_t> to_bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

/// Flattens same-dtype tensors into one, and copies it back.
struct Flat {
  std::vector<at::Tensor> parts;
  at::Tensor flat;

  explicit Flat(std::vector<at::Tensor> tensors) : parts(std::move(tensors)) {
    std::vector<at::Tensor> views;
    views.reserve(parts.size());
    for (const auto& t : parts) views.push_back(t.reshape({-1}));
    flat = views.size() == 1 ? views[0].clone() : torch::cat(views);
  }
  void copy_back() {
    torch::NoGradGuard no_grad;
    int64_t offset = 0;
    for (auto& t : parts) {
      const int64_t n = t.numel();
      t.copy_(flat.narrow(0, offset, n).view(t.sizes()));
      offset += n;
    }
  }
};

/// Groups tensors by dtype and device, keeping order within a group.
std::vector<std::vector<at::Tensor>> by_kind(
    const std::vector<at::Tensor>& tensors) {
  std::vector<std::vector<at::Tensor>> groups;
  for (const auto& t : tensors) {
    if (!t.defined() || t.numel() == 0) continue;
    auto same = [&](const std::vector<at::Tensor>& g) {
      return g[0].scalar_type() == t.scalar_type() &&
             g[0].device() == t.device();
    };
    auto it = std::find_if(groups.begin(), groups.end(), same);
    if (it == groups.end()) {
      groups.push_back({t});
    } else {
      it->push_back(t);
    }
  }
  return groups;
}

/// Each rank's liveness in the store: a beat counter that its own thread
/// advances while the process runs, and how many collectives its training
/// thread has entered (and the latest's name). When a collective fails,
/// this tells a rank that died or stopped (beats frozen) from one that
/// hangs elsewhere (beats go on, collectives lag behind).
class Heartbeat {
 public:
  Heartbeat(c10::intrusive_ptr<c10d::Store> store, int rank, int world,
            std::chrono::milliseconds interval)
      : store_(std::move(store)),
        rank_(rank),
        world_(world),
        interval_(interval) {
    publish();
    thread_ = std::thread([this] { loop(); });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  /// The training thread entered collective number `n`, `what`.
  void entered(int64_t n, const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex_);
    collectives_ = n;
    what_ = what;
  }

  struct Record {
    int64_t beats = -1;  ///< -1: unreadable
    int64_t collectives = 0;
    std::string what;
  };

  /// Every rank's record; throws when the store is unreachable.
  std::vector<Record> read_all() {
    std::vector<Record> out(static_cast<size_t>(world_));
    std::lock_guard<std::mutex> lock(store_mutex_);
    for (int r = 0; r < world_; ++r) {
      const std::string key = key_of(r);
      if (!store_->check({key})) continue;
      const auto bytes = store_->get(key);
      std::istringstream in(std::string(bytes.begin(), bytes.end()));
      Record& rec = out[size_t(r)];
      in >> rec.beats >> rec.collectives;
      std::getline(in >> std::ws, rec.what);
    }
    return out;
  }

  std::chrono::milliseconds interval() const { return interval_; }

 private:
  static std::string key_of(int rank) { return fmt::format("beat/{}", rank); }

  void publish() {
    std::string value;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      value = fmt::format("{} {} {}", beats_++, collectives_, what_);
    }
    std::lock_guard<std::mutex> lock(store_mutex_);
    store_->set(key_of(rank_), to_bytes(value));
  }

  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!cv_.wait_for(lock, interval_, [&] { return stop_; })) {
      lock.unlock();
      try {
        publish();
      } catch (const std::exception&) {
        // The store is gone (its host died): the failing collective
        // reports that; nothing more to publish.
        return;
      }
      lock.lock();
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  const int rank_;
  const int world_;
  const std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::mutex store_mutex_;  // the store client is one connection
  std::condition_variable cv_;
  bool stop_ = false;
  int64_t beats_ = 0;
  int64_t collectives_ = 0;
  std::string what_ = "set-up";
  std::thread thread_;
};

}  // namespace

std::optional<LaunchInfo> launch_from_environment(
    const std::function<const char*(const char*)>& getenv_fn) {
  const std::function<const char*(const char*)> getenv =
      getenv_fn ? getenv_fn : [](const char* n) { return std::getenv(n); };
  const bool has_rank = getenv("RANK") != nullptr;
  const bool has_world = getenv("WORLD_SIZE") != nullptr;
  if (!has_rank && !has_world) return std::nullopt;
  if (!has_rank || !has_world) {
    throw ConfigError(fmt::format(
        "environment: {} is set but {} is not; launch data-parallel "
        "training with torchrun (or set RANK, WORLD_SIZE, MASTER_ADDR and "
        "MASTER_PORT together)",
        has_rank ? "RANK" : "WORLD_SIZE", has_rank ? "WORLD_SIZE" : "RANK"));
  }
  LaunchInfo info;
  info.world_size = int(*read_int(getenv, "WORLD_SIZE", 1, 1 << 20));
  info.rank = int(*read_int(getenv, "RANK", 0, 1 << 20));
  if (info.rank >= info.world_size) {
    throw ConfigError(
        fmt::format("environment: RANK={}: must be below WORLD_SIZE={}",
                    info.rank, info.world_size));
  }
  info.local_rank = int(read_int(getenv, "LOCAL_RANK", 0, 1 << 20).value_or(0));
  info.local_world_size =
      int(read_int(getenv, "LOCAL_WORLD_SIZE", 1, 1 << 20).value_or(1));
  const char* addr = getenv("MASTER_ADDR");
  if (info.world_size > 1 && (addr == nullptr || *addr == '\0')) {
    throw ConfigError(
        "environment: MASTER_ADDR: unset; it names the host of the "
        "rendezvous store (torchrun sets it)");
  }
  info.master_addr = addr != nullptr ? addr : "";
  auto port = read_int(getenv, "MASTER_PORT", 1, 65535);
  if (info.world_size > 1 && !port) {
    throw ConfigError(
        "environment: MASTER_PORT: unset; it is the port of the rendezvous "
        "store (torchrun sets it)");
  }
  info.master_port = int(port.value_or(0));
  const char* agent = getenv("TORCHELASTIC_USE_AGENT_STORE");
  info.agent_store = agent != nullptr && std::string(agent) == "True";
  info.restart_count = int(
      read_int(getenv, "TORCHELASTIC_RESTART_COUNT", 0, 1 << 20).value_or(0));
  return info;
}

struct Communicator::Impl {
  LaunchInfo launch;
  core::DistributedConfig config;
  std::string backend;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::unique_ptr<Heartbeat> heartbeat;
  std::string store_address;
  int64_t collectives = 0;
  bool failed = false;
  CommStats stats;

  /// Runs one collective: counts it for the heartbeat, waits for it and
  /// turns a failure into a DistributedError that names the rank at fault.
  void run(const std::string& what,
           const std::function<c10::intrusive_ptr<c10d::Work>()>& start) {
    wait(what, launch_op(what, start));
  }

  c10::intrusive_ptr<c10d::Work> launch_op(
      const std::string& what,
      const std::function<c10::intrusive_ptr<c10d::Work>()>& start) {
    if (failed) {
      throw DistributedError("distributed: an earlier collective failed");
    }
    ++collectives;
    if (heartbeat) heartbeat->entered(collectives, what);
    try {
      return start();
    } catch (const std::exception& e) {
      fail(what, e.what());
    }
  }

  void wait(const std::string& what,
            const c10::intrusive_ptr<c10d::Work>& work) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      fail(what, e.what());
    }
  }

  [[noreturn]] void fail(const std::string& what, const std::string& cause) {
    failed = true;
    throw DistributedError(fmt::format(
        "distributed: {}; rank {} gave up at {} (collective {}): {}",
        diagnose(), launch.rank, what, collectives, first_line(cause)));
  }

  /// Which rank is at fault, from the heartbeats: one whose beats stopped
  /// (died or stopped), else one whose collectives lag behind this rank's
  /// (hangs outside the collective).
  std::string diagnose() {
    if (!heartbeat) return "a peer failed";
    std::vector<Heartbeat::Record> before, after;
    try {
      before = heartbeat->read_all();
      // Three beats: a live rank has advanced by then.
      std::this_thread::sleep_for(heartbeat->interval() * 3);
      after = heartbeat->read_all();
    } catch (const std::exception&) {
      return fmt::format(
          "rank 0 of {} is gone: the rendezvous store it hosts at {} is "
          "unreachable",
          launch.world_size, store_address);
    }
    std::vector<std::string> dead, behind;
    for (int r = 0; r < launch.world_size; ++r) {
      if (r == launch.rank) continue;
      const auto& a = before[size_t(r)];
      const auto& b = after[size_t(r)];
      if (b.beats < 0 || b.beats == a.beats) {
        dead.push_back(std::to_string(r));
      } else if (b.collectives < collectives) {
        behind.push_back(
            fmt::format("{} (at collective {}, {})", r, b.collectives, b.what));
      }
    }
    const int world = launch.world_size;
    if (!dead.empty()) {
      return fmt::format(
          "rank {} of {} stopped (its process died or is stopped: no "
          "heartbeat for {} ms)",
          fmt::join(dead, ", "), world, (heartbeat->interval() * 3).count());
    }
    if (!behind.empty()) {
      return fmt::format(
          "rank {} of {} hangs: alive but did not reach this collective "
          "within distributed.timeout_seconds={}",
          fmt::join(behind, ", "), world, config.timeout_seconds);
    }
    return fmt::format("a collective across the {} ranks failed", world);
  }

  at::Tensor host_scalar_tensor(int64_t value) const {
    return torch::full({1}, value, torch::kInt64);
  }
};

std::unique_ptr<Communicator> Communicator::connect(
    const LaunchInfo& launch, const core::DistributedConfig& config,
    bool cuda) {
  auto impl = std::make_unique<Impl>();
  impl->launch = launch;
  impl->config = config;
#ifdef USE_C10D_NCCL
  constexpr bool kHaveNccl = true;
#else
  constexpr bool kHaveNccl = false;
#endif
  if (config.backend == "nccl" && !kHaveNccl) {
    throw ConfigError(
        "distributed.backend: nccl: this LibTorch build has no NCCL "
        "(built without USE_C10D_NCCL); use gloo or auto");
  }
  if (config.backend == "nccl" && !cuda) {
    throw ConfigError(
        "distributed.backend: nccl: NCCL reduces CUDA tensors and this "
        "run trains on the CPU (device: cpu, or no GPU for auto); use gloo "
        "or auto");
  }
  impl->backend = config.backend == "auto"
                      ? (cuda && kHaveNccl ? "nccl" : "gloo")
                      : config.backend;
  const auto timeout = to_ms(config.timeout_seconds);
  impl->store_address =
      fmt::format("{}:{}", launch.master_addr, launch.master_port);

  // The store, as Python's env:// rendezvous makes it: torchrun's agent
  // hosts it under a per-attempt prefix, or rank 0 does.
  auto make_store = [&](bool main) -> c10::intrusive_ptr<c10d::Store> {
    c10d::TCPStoreOptions o;
    o.port = uint16_t(launch.master_port);
    o.timeout = timeout;
    if (main) {
      o.isServer = !launch.agent_store && launch.rank == 0;
      o.numWorkers = size_t(launch.world_size);
      o.multiTenant = true;
    } else {
      // The heartbeat's own connection: not counted as a worker.
      o.waitWorkers = false;
    }
    c10::intrusive_ptr<c10d::Store> store =
        c10::make_intrusive<c10d::TCPStore>(launch.master_addr, o);
    if (launch.agent_store) {
      store = c10::make_intrusive<c10d::PrefixStore>(
          fmt::format("/worker/attempt_{}", launch.restart_count), store);
    }
    return c10::make_intrusive<c10d::PrefixStore>("adascale", store);
  };

  const auto interval =
      std::min(std::chrono::milliseconds(1000),
               std::max(std::chrono::milliseconds(100), timeout / 10));
  try {
    auto store = make_store(true);
    // Published before the group forms, so that once it has formed every
    // rank's record exists.
    impl->heartbeat = std::make_unique<Heartbeat>(
        make_store(false), launch.rank, launch.world_size, interval);
    if (impl->backend == "gloo") {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      const char* iface = std::getenv("GLOO_SOCKET_IFNAME");
      const std::string& host = launch.master_addr;
      if (iface != nullptr && *iface != '\0') {
        options->devices.push_back(
            c10d::ProcessGroupGloo::createDeviceForInterface(iface));
      } else if (host == "127.0.0.1" || host == "localhost" || host == "::1") {
        // Everyone is on this machine: stay on loopback whatever the
        // hostname resolves to.
        options->devices.push_back(
            c10d::ProcessGroupGloo::createDeviceForHostname(host));
      } else {
        options->devices.push_back(
            c10d::ProcessGroupGloo::createDefaultDevice());
      }
      options->threads = 2;
      impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(
          store, launch.rank, launch.world_size, options);
    } else {
#ifdef USE_C10D_NCCL
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          store, launch.rank, launch.world_size, options);
#endif
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw DistributedError(fmt::format(
        "distributed: rank {} of {} could not join the group through the "
        "store at {} within distributed.timeout_seconds={} (backend {}): {}",
        launch.rank, launch.world_size, impl->store_address,
        config.timeout_seconds, impl->backend, first_line(e.what())));
  }
  log::info("distributed: rank {} of {} joined ({}, store {}, timeout {} s)",
            launch.rank, launch.world_size, impl->backend, impl->store_address,
            config.timeout_seconds);
  return std::unique_ptr<Communicator>(new Communicator(std::move(impl)));
}

Communicator::Communicator(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

Communicator::~Communicator() {
  if (impl_->failed) {
    // The group's worker threads may still be blocked in a collective that
    // will only time out; destroying the group would wait for each queued
    // one in turn. The process is about to exit with the error, so leave
    // the group to it.
    (void)impl_->group.release();
  }
}

int Communicator::rank() const {
  return impl_->launch.rank;
}
int Communicator::world_size() const {
  return impl_->launch.world_size;
}
const std::string& Communicator::backend() const {
  return impl_->backend;
}
const core::DistributedConfig& Communicator::config() const {
  return impl_->config;
}
const CommStats& Communicator::stats() const {
  return impl_->stats;
}
void Communicator::reset_stats() {
  impl_->stats = CommStats();
}

void Communicator::broadcast(const std::vector<at::Tensor>& tensors,
                             const std::string& what) {
  torch::NoGradGuard no_grad;
  core::Stopwatch clock;
  for (auto& group : by_kind(tensors)) {
    Flat flat(group);
    std::vector<at::Tensor> io{flat.flat};
    impl_->run(what, [&] { return impl_->group->broadcast(io); });
    flat.copy_back();
    impl_->stats.other_bytes += flat.flat.nbytes();
    ++impl_->stats.other_collectives;
  }
  impl_->stats.other_seconds += clock.seconds();
}

void Communicator::all_reduce_sum(const std::vector<at::Tensor>& tensors,
                                  const std::string& what) {
  torch::NoGradGuard no_grad;
  core::Stopwatch clock;
  for (auto& group : by_kind(tensors)) {
    if (group.size() == 1 && group[0].is_contiguous()) {
      // One contiguous tensor reduces in place, without copies.
      std::vector<at::Tensor> io{group[0]};
      impl_->run(what, [&] { return impl_->group->allreduce(io); });
      impl_->stats.other_bytes += group[0].nbytes();
    } else {
      Flat flat(group);
      std::vector<at::Tensor> io{flat.flat};
      impl_->run(what, [&] { return impl_->group->allreduce(io); });
      flat.copy_back();
      impl_->stats.other_bytes += flat.flat.nbytes();
    }
    ++impl_->stats.other_collectives;
  }
  impl_->stats.other_seconds += clock.seconds();
}

void Communicator::average_gradients(const std::vector<at::Tensor>& params) {
  torch::NoGradGuard no_grad;
  core::Stopwatch clock;
  const int64_t cap =
      std::max<int64_t>(1, int64_t(impl_->config.bucket_mb * 1048576.0));
  struct Bucket {
    std::vector<at::Tensor> params;
    at::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<Bucket> buckets;
  int64_t bytes = 0;
  // Consecutive parameters of one dtype share a bucket up to the cap.
  for (const auto& p : params) {
    const int64_t size = p.numel() * int64_t(p.element_size());
    if (buckets.empty() || bytes + size > cap ||
        buckets.back().params[0].scalar_type() != p.scalar_type() ||
        buckets.back().params[0].device() != p.device()) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().params.push_back(p);
    bytes += size;
  }
  // Every bucket is launched before any is awaited, so the backend works
  // through them back to back.
  for (auto& b : buckets) {
    std::vector<at::Tensor> views;
    for (const auto& p : b.params) {
      views.push_back(p.grad().defined()
                          ? p.grad().reshape({-1})
                          : torch::zeros({p.numel()}, p.options()));
    }
    b.flat = torch::cat(views);
    std::vector<at::Tensor> io{b.flat};
    b.work = impl_->launch_op("all-reduce of gradients",
                              [&] { return impl_->group->allreduce(io); });
  }
  const double scale = 1.0 / impl_->launch.world_size;
  for (auto& b : buckets) {
    impl_->wait("all-reduce of gradients", b.work);
    b.flat.mul_(scale);
    int64_t offset = 0;
    for (const auto& p : b.params) {
      const int64_t n = p.numel();
      if (p.grad().defined()) {
        p.mutable_grad().copy_(b.flat.narrow(0, offset, n).view(p.sizes()));
      }
      offset += n;
    }
    impl_->stats.gradient_bytes += b.flat.nbytes();
  }
  ++impl_->stats.gradient_reductions;
  impl_->stats.gradient_seconds += clock.seconds();
}

bool Communicator::any(bool local, const std::string& what) {
  at::Tensor flag = impl_->host_scalar_tensor(local ? 1 : 0);
  all_reduce_sum({flag}, what);
  return flag.item<int64_t>() > 0;
}

std::string Communicator::broadcast_bytes(const std::string& bytes,
                                          const std::string& what) {
  at::Tensor size = impl_->host_scalar_tensor(int64_t(bytes.size()));
  broadcast({size}, what);
  const int64_t n = size.item<int64_t>();
  if (n == 0) return "";
  at::Tensor data = torch::empty({n}, torch::kUInt8);
  if (rank() == 0) std::memcpy(data.data_ptr(), bytes.data(), size_t(n));
  broadcast({data}, what);
  return std::string(static_cast<const char*>(data.data_ptr()), size_t(n));
}

void Communicator::agree(bool ok, const std::string& what) {
  at::Tensor failed = torch::zeros({world_size()}, torch::kInt64);
  failed[rank()] = ok ? 0 : 1;
  all_reduce_sum({failed}, what);
  std::vector<std::string> ranks;
  for (int r = 0; r < world_size(); ++r) {
    if (failed[r].item<int64_t>() != 0 && r != rank()) {
      ranks.push_back(std::to_string(r));
    }
  }
  if (ok && !ranks.empty()) {
    throw DistributedError(fmt::format(
        "distributed: rank {} of {} failed during {} (its own error line "
        "says why)",
        fmt::join(ranks, ", "), world_size(), what));
  }
}

void Communicator::broadcast_module(torch::nn::Module& module,
                                    const std::string& what) {
  std::vector<at::Tensor> tensors;
  for (const auto& p : module.parameters()) tensors.push_back(p);
  for (const auto& b : module.buffers()) tensors.push_back(b);
  broadcast(tensors, what);
}

std::vector<AccuracyMeter> Communicator::all_reduce(
    const std::vector<AccuracyMeter>& meters, const std::string& what) {
  if (meters.empty()) return meters;
  // Counts in int64 and loss sums in float64, so the sums are exact (the
  // counts) or as exact as a single process's (the losses).
  at::Tensor counts = torch::empty({int64_t(meters.size()), 3}, torch::kInt64);
  at::Tensor losses = torch::empty({int64_t(meters.size())}, torch::kDouble);
  auto c = counts.accessor<int64_t, 2>();
  auto l = losses.accessor<double, 1>();
  for (size_t i = 0; i < meters.size(); ++i) {
    c[int64_t(i)][0] = meters[i].top1_correct;
    c[int64_t(i)][1] = meters[i].top5_correct;
    c[int64_t(i)][2] = meters[i].samples;
    l[int64_t(i)] = meters[i].loss_sum;
  }
  all_reduce_sum({counts, losses}, what);
  std::vector<AccuracyMeter> out(meters.size());
  for (size_t i = 0; i < meters.size(); ++i) {
    out[i].top1_correct = c[int64_t(i)][0];
    out[i].top5_correct = c[int64_t(i)][1];
    out[i].samples = c[int64_t(i)][2];
    out[i].loss_sum = l[int64_t(i)];
  }
  return out;
}

std::vector<Accuracy> Communicator::all_reduce(const std::vector<Accuracy>& a,
                                               const std::string& what) {
  // Accuracies are ratios over each shard: back to counts and sums (exact:
  // counts below 2^53), reduced, and divided again.
  std::vector<AccuracyMeter> meters(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const double n = double(a[i].samples);
    meters[i].samples = a[i].samples;
    meters[i].top1_correct = std::llround(a[i].top1 * n);
    meters[i].top5_correct = std::llround(a[i].top5 * n);
    meters[i].loss_sum = a[i].loss * n;
  }
  std::vector<Accuracy> out;
  for (const auto& m : all_reduce(meters, what)) out.push_back(m.result());
  return out;
}

}  // namespace adascale::training
