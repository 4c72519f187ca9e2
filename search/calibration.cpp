#include "search/calibration.h"

#include <fmt/format.h>
#include <sys/mman.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <limits>
#include <new>
#include <numeric>
#include <optional>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/logging.h"
#include "core/proc_files.h"
#include "core/timing.h"

namespace adascale::search {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;
constexpr int64_t kLineBytes = 64;

// Compiler barriers in the manner of Google Benchmark's DoNotOptimize and
// ClobberMemory. A benchmark buffer that never escapes lets the compiler
// move its reads across the clock calls (GCC did: the chase timed zero), and
// a sum over an unchanged buffer could be computed once for all sweeps.
template <typename T>
inline void escape(T* p) {
  asm volatile("" : : "g"(p) : "memory");
}
template <typename T>
inline void keep(T& value) {
  asm volatile("" : "+r"(value) : : "memory");
}
inline void clobber_memory() {
  asm volatile("" : : : "memory");
}

// A 2 MiB-aligned buffer that asks for transparent huge pages: with 4 KiB
// pages a random chase over a few MiB misses the TLB on most loads (in a VM
// each miss is a two-level page walk: 140 ns instead of 19 ns at 4 MiB on
// our dev VM), which would be read as cache or DRAM latency. Best effort:
// where THP is off the chase includes those misses.
class HugeBuffer {
 public:
  explicit HugeBuffer(int64_t bytes) {
    constexpr size_t kHuge = 2 * kMiB;
    size_ = (static_cast<size_t>(bytes) + kHuge - 1) / kHuge * kHuge;
    data_ = std::aligned_alloc(kHuge, size_);
    if (data_ == nullptr) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
    ::madvise(data_, size_, MADV_HUGEPAGE);
#endif
  }
  ~HugeBuffer() {
    std::free(data_);
  }
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;
  void* data() const {
    return data_;
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

std::optional<std::string> first_line(const fs::path& path) {
  return core::read_first_line(path.string());
}

std::vector<CacheInfo> caches_from_sysconf() {
  std::vector<CacheInfo> caches;
#if defined(_SC_LEVEL1_DCACHE_SIZE)
  const std::pair<int, const char*> levels[] = {{_SC_LEVEL1_DCACHE_SIZE, "l1d"},
                                                {_SC_LEVEL2_CACHE_SIZE, "l2"},
                                                {_SC_LEVEL3_CACHE_SIZE, "l3"},
                                                {_SC_LEVEL4_CACHE_SIZE, "l4"}};
  int level = 0;
  for (const auto& [key, name] : levels) {
    ++level;
    long size = ::sysconf(key);
    if (size > 0) caches.push_back({name, level, static_cast<int64_t>(size)});
  }
#endif
  return caches;
}

std::optional<double> to_number(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  try {
    double v = std::stod(*text);
    if (v > 0 && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

struct Clocks {
  double max_mhz = 0, min_mhz = 0;
  std::string origin;  // "cpufreq" or "/proc/cpuinfo"
};

std::optional<Clocks> read_clocks() {
  auto max_mhz = core::read_cpufreq_mhz("cpuinfo_max_freq");
  auto min_mhz = core::read_cpufreq_mhz("cpuinfo_min_freq");
  if (max_mhz && min_mhz) return Clocks{*max_mhz, *min_mhz, "cpufreq"};
  // A VM without cpufreq: the one clock the kernel reports for both.
  auto mhz = to_number(core::read_cpuinfo_field("cpu MHz"));
  if (mhz) return Clocks{*mhz, *mhz, "/proc/cpuinfo"};
  return std::nullopt;
}

std::string cpu_model_name() {
  // x86 says "model name"; ARM boards say "Model" or "Hardware".
  for (const char* key : {"model name", "Model", "Hardware"}) {
    auto v = core::read_cpuinfo_field(key);
    if (v && !v->empty()) return *v;
  }
  return "unknown CPU";
}

std::optional<double> memory_size_mib() {
  auto mem = core::read_meminfo();
  if (!mem) return std::nullopt;
  return double(mem->total_kib) / 1024.0;
}

std::string today() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &local);
  return buf;
}

int64_t round_up_pow2(int64_t v) {
  int64_t p = 1;
  while (p < v) p *= 2;
  return p;
}

// A cache line of the chase: the address of the next line, then padding.
struct alignas(kLineBytes) Line {
  Line* next = nullptr;
  char pad[kLineBytes - sizeof(Line*)] = {};
};

// 32 independent accumulators (eight AVX2 or four AVX-512 registers): the
// sum is bound by loads, not by one chain of adds. The default x86-64
// target has only SSE2, half the load width of the machines we calibrate,
// so target_clones also compiles AVX2 and AVX-512 copies and the loader
// picks one for this CPU.
#if defined(__x86_64__) && defined(__GNUC__)
#define ADASCALE_WIDE_LOADS \
  __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ADASCALE_WIDE_LOADS
#endif
ADASCALE_WIDE_LOADS uint64_t sum_words(const uint64_t* data, int64_t n) {
  constexpr int kLanes = 32;
  uint64_t acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) acc[j] += data[i + j];
  }
  for (; i < n; ++i) acc[0] += data[i];
  uint64_t total = 0;
  for (int j = 0; j < kLanes; ++j) total += acc[j];
  return total;
}

std::optional<double> read_energy_j(const fs::path& dir) {
  auto uj = to_number(first_line(dir / "energy_uj"));
  if (!uj) return std::nullopt;
  return *uj / 1e6;
}

// Average package power while `work` runs repeatedly for `seconds`, from
// the RAPL energy counter (which wraps at max_energy_range_uj).
std::optional<double> average_power_w(const fs::path& rapl,
                                      const std::function<void()>& work,
                                      double seconds) {
  auto e0 = read_energy_j(rapl);
  if (!e0) return std::nullopt;
  core::Stopwatch watch;
  do {
    work();
  } while (watch.seconds() < seconds);
  double elapsed = watch.seconds();
  auto e1 = read_energy_j(rapl);
  if (!e1) return std::nullopt;
  double joules = *e1 - *e0;
  if (joules < 0) {
    auto range = to_number(first_line(rapl / "max_energy_range_uj"));
    if (!range) return std::nullopt;
    joules += *range / 1e6;
  }
  return joules / elapsed;
}

double measure_cuda_gemm_gmacs(int64_t n, int repeats) {
  torch::NoGradGuard no_grad;
  auto options = torch::TensorOptions().device(torch::kCUDA);
  torch::Tensor a = torch::rand({n, n}, options);
  torch::Tensor b = torch::rand({n, n}, options);
  torch::Tensor c = torch::empty({n, n}, options);
  torch::mm_out(c, a, b);
  torch::cuda::synchronize();
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    core::Stopwatch watch;
    torch::mm_out(c, a, b);
    torch::cuda::synchronize();
    best = std::min(best, watch.seconds());
  }
  return double(n) * double(n) * double(n) / best / 1e9;
}

std::string join(const std::vector<std::string>& items) {
  return fmt::format("{}", fmt::join(items, ", "));
}

}  // namespace

std::vector<CacheInfo> read_cache_levels(const std::string& sysfs_dir) {
  std::vector<CacheInfo> caches;
  for (const core::SysfsCache& c : core::read_sysfs_caches(sysfs_dir)) {
    if (c.type == "Instruction") continue;
    std::string name = fmt::format("l{}", c.level);
    if (c.level == 1 && c.type == "Data") name = "l1d";
    caches.push_back({name, c.level, c.size_bytes});
  }
  std::stable_sort(
      caches.begin(), caches.end(),
      [](const CacheInfo& a, const CacheInfo& b) { return a.level < b.level; });
  caches.erase(std::unique(caches.begin(), caches.end(),
                           [](const CacheInfo& a, const CacheInfo& b) {
                             return a.level == b.level;
                           }),
               caches.end());
  if (!caches.empty()) return caches;
  caches = caches_from_sysconf();
  if (!caches.empty()) {
    log::debug("calibrate: no cache data in {}; sizes from sysconf", sysfs_dir);
    return caches;
  }
  throw IoError("calibrate: cannot find the cache sizes: " + sysfs_dir +
                " lists no data cache and sysconf(_SC_LEVEL1_DCACHE_SIZE) "
                "reports none");
}

double measure_gemm_gmacs(int64_t n, int repeats, int warmup) {
  if (n <= 0 || repeats <= 0)
    throw InternalError("measure_gemm_gmacs: n and repeats must be > 0");
  torch::NoGradGuard no_grad;
  torch::Tensor a = torch::rand({n, n});
  torch::Tensor b = torch::rand({n, n});
  torch::Tensor c = torch::empty({n, n});
  for (int i = 0; i < warmup; ++i) torch::mm_out(c, a, b);
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    core::Stopwatch watch;
    torch::mm_out(c, a, b);
    best = std::min(best, watch.seconds());
  }
  return double(n) * double(n) * double(n) / best / 1e9;
}

double measure_copy_bandwidth_gbs(int64_t bytes, int repeats) {
  if (bytes < 4 || repeats <= 0)
    throw InternalError("measure_copy_bandwidth_gbs: bytes and repeats > 0");
  torch::NoGradGuard no_grad;
  const int64_t n = bytes / 4;
  torch::Tensor src = torch::ones({n});
  torch::Tensor dst = torch::empty({n});
  dst.copy_(src);  // faults dst's pages in
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    core::Stopwatch watch;
    dst.copy_(src);
    best = std::min(best, watch.seconds());
  }
  // STREAM's copy convention: bytes read + bytes written.
  return 2.0 * double(n) * 4.0 / best / 1e9;
}

double measure_chase_latency_ns(int64_t working_set_bytes, int64_t loads,
                                int repeats) {
  if (repeats <= 0 || loads <= 0)
    throw InternalError("measure_chase_latency_ns: loads and repeats > 0");
  const int64_t n = std::max<int64_t>(2, working_set_bytes / kLineBytes);
  if (n > std::numeric_limits<uint32_t>::max())
    throw InternalError("measure_chase_latency_ns: working set too large");
  // Sattolo's shuffle gives a single cycle through all n lines, so the
  // chase visits every line before it repeats one.
  std::vector<uint32_t> next(static_cast<size_t>(n));
  std::iota(next.begin(), next.end(), 0u);
  std::mt19937_64 rng(0x5eed + static_cast<uint64_t>(n));
  for (int64_t i = n - 1; i > 0; --i) {
    std::uniform_int_distribution<int64_t> pick(0, i - 1);
    std::swap(next[size_t(i)], next[size_t(pick(rng))]);
  }
  HugeBuffer buffer(n * kLineBytes);
  Line* lines = static_cast<Line*>(buffer.data());
  for (int64_t i = 0; i < n; ++i) new (lines + i) Line{lines + next[size_t(i)]};
  next = {};
  escape(lines);

  // Writing the lines left the last of them cached; one lap (or `loads`
  // loads, if fewer) settles caches and TLB into the chase's steady state.
  Line* p = lines;
  for (int64_t i = 0, warm = std::min(n, loads); i < warm; ++i) p = p->next;
  const int64_t rounds = std::max<int64_t>(1, loads / 8);
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    core::Stopwatch watch;
    for (int64_t i = 0; i < rounds; ++i) {
      p = p->next->next->next->next;
      p = p->next->next->next->next;
    }
    keep(p);
    best = std::min(best, watch.seconds());
  }
  return best / double(rounds * 8) * 1e9;
}

double measure_read_bandwidth_gbs(int64_t bytes, int64_t total_bytes,
                                  int repeats) {
  if (repeats <= 0)
    throw InternalError("measure_read_bandwidth_gbs: repeats must be > 0");
  const int64_t n = std::max<int64_t>(32, bytes / 8);
  std::vector<uint64_t> data(static_cast<size_t>(n));
  std::iota(data.begin(), data.end(), uint64_t(1));
  const int64_t sweeps = std::max<int64_t>(1, total_bytes / (n * 8));
  escape(data.data());
  uint64_t sum = sum_words(data.data(), n);  // warm-up
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    core::Stopwatch watch;
    for (int64_t s = 0; s < sweeps; ++s) {
      sum += sum_words(data.data(), n);
      clobber_memory();
    }
    best = std::min(best, watch.seconds());
  }
  keep(sum);
  return double(sweeps * n * 8) / best / 1e9;
}

Calibration calibrate_device(const CalibrationOptions& options,
                             const core::DeviceProfile& base) {
  core::Stopwatch total;
  Calibration out;
  core::DeviceProfile& p = out.profile;
  const bool quick = options.quick;
  out.threads = at::get_num_threads();

  p.name = options.name;
  p.description = cpu_model_name();
  unsigned hw = std::thread::hardware_concurrency();
  if (hw > 0) {
    p.cpu.cores = static_cast<int>(hw);
    out.measured.push_back("cores");
  } else {
    p.cpu.cores = base.cpu.cores;
    out.from_base.push_back("cores");
  }

  if (auto clocks = read_clocks()) {
    p.cpu.max_clock_mhz = clocks->max_mhz;
    p.cpu.min_clock_mhz = clocks->min_mhz;
    out.measured.push_back("clock (" + clocks->origin + ")");
  } else {
    p.cpu.max_clock_mhz = base.cpu.max_clock_mhz;
    p.cpu.min_clock_mhz = base.cpu.min_clock_mhz;
    out.from_base.push_back("clock");
  }
  if (auto mib = memory_size_mib()) {
    p.memory.size_mib = *mib;
    out.measured.push_back("memory size");
  } else {
    p.memory.size_mib = base.memory.size_mib;
    out.from_base.push_back("memory size");
  }

  if (hw > 0 && out.threads < static_cast<int>(hw)) {
    log::warn(
        "calibrate: GEMM and copy on {} of {} hardware threads, but "
        "peak_gmacs means all cores (threads=auto uses them all)",
        out.threads, hw);
  }
  const int64_t gemm_n = quick ? 512 : 2048;
  log::info("calibrate: fp32 GEMM {0}x{0}x{0} on {1} threads", gemm_n,
            out.threads);
  p.cpu.peak_gmacs = measure_gemm_gmacs(gemm_n, quick ? 3 : 5, quick ? 1 : 2);
  log::info("calibrate: peak {:.1f} GMAC/s", p.cpu.peak_gmacs);
  out.measured.push_back("peak_gmacs");

  const int64_t copy_bytes = quick ? 64 * kMiB : 256 * kMiB;
  log::info("calibrate: copy bandwidth over {} MiB", copy_bytes / kMiB);
  p.memory.bandwidth_gbs =
      measure_copy_bandwidth_gbs(copy_bytes, quick ? 2 : 5);
  log::info("calibrate: memory bandwidth {:.1f} GB/s (read + write)",
            p.memory.bandwidth_gbs);
  out.measured.push_back("memory bandwidth");

  std::vector<CacheInfo> caches = read_cache_levels();
  // The largest working set is at least 4x the last cache, so nearly every
  // load misses it; a quarter of RAM at most. Quick mode too: its DRAM
  // latency must stay clear of the last cache's, or the profile fails
  // validation (they are 210 and 170 ns on our dev VM); fewer loads per
  // point keep it fast.
  const int64_t last = caches.back().size_bytes;
  int64_t largest = std::max(round_up_pow2(4 * last), 256 * kMiB);
  const int64_t ram = static_cast<int64_t>(p.memory.size_mib) * kMiB;
  if (ram > 0 && largest > ram / 4) {
    largest = round_up_pow2(ram / 4 + 1) / 2;  // a power of two <= ram / 4
    if (largest < 4 * last) {
      log::warn("calibrate: chase capped at {} MiB, under 4x the {} KiB {}",
                largest / kMiB, last / kKiB, caches.back().name);
    }
  }
  log::info("calibrate: pointer chase, 4 KiB to {} MiB", largest / kMiB);
  const int64_t loads = quick ? int64_t(1) << 16 : int64_t(1) << 20;
  for (int64_t ws = 4 * kKiB; ws <= largest; ws *= 2) {
    double ns = measure_chase_latency_ns(ws, loads, 3);
    log::debug("calibrate: chase {} KiB: {:.2f} ns", ws / kKiB, ns);
    out.latency_curve.push_back({ws, ns});
  }
  p.memory.latency_ns = out.latency_curve.back().latency_ns;
  log::info("calibrate: memory latency {:.1f} ns", p.memory.latency_ns);
  out.measured.push_back("memory latency");

  int64_t previous_size = 0;
  for (const CacheInfo& c : caches) {
    // Where the level's plateau starts: twice the level inside it (half the
    // size for the first level). Not "half the level's size": a VM or a
    // shared last-level cache may give us far less than sysfs reports (here
    // sysfs says 32 MiB of L3, but loads reach DRAM latency past 4 MiB).
    const int64_t probe =
        previous_size > 0 ? 2 * previous_size : c.size_bytes / 2;
    previous_size = c.size_bytes;
    const LatencyPoint* at = &out.latency_curve.front();
    for (const auto& point : out.latency_curve) {
      if (point.working_set_bytes <= std::min(probe, c.size_bytes / 2))
        at = &point;
    }
    const int64_t half = std::max<int64_t>(4 * kKiB, c.size_bytes / 2);
    double gbs = measure_read_bandwidth_gbs(
        half, quick ? 16 * kMiB : 512 * kMiB, quick ? 2 : 3);
    log::info("calibrate: {} {} KiB: {:.2f} ns, read {:.1f} GB/s", c.name,
              c.size_bytes / kKiB, at->latency_ns, gbs);
    p.memory.caches.push_back(
        {c.name, double(c.size_bytes) / kKiB, at->latency_ns, gbs});
  }
  out.measured.push_back("cache sizes, latencies and read bandwidths");

  p.cpu.active_power_w = base.cpu.active_power_w;
  p.cpu.idle_power_w = base.cpu.idle_power_w;
  const fs::path rapl = "/sys/class/powercap/intel-rapl:0";
  bool power_measured = false;
  if (read_energy_j(rapl)) {
    log::info("calibrate: package power (RAPL), busy and idle");
    const double window = quick ? 0.25 : 1.0;
    torch::NoGradGuard no_grad;
    torch::Tensor a = torch::rand({gemm_n, gemm_n});
    torch::Tensor c = torch::empty({gemm_n, gemm_n});
    auto active = average_power_w(
        rapl, [&] { torch::mm_out(c, a, a); }, window);
    auto idle = average_power_w(
        rapl,
        [&] {
          std::this_thread::sleep_for(std::chrono::duration<double>(window));
        },
        window);
    if (active && idle && *idle > 0 && *idle <= *active) {
      p.cpu.active_power_w = *active;
      p.cpu.idle_power_w = *idle;
      power_measured = true;
      out.measured.push_back("cpu power (RAPL)");
      log::info("calibrate: {:.1f} W busy, {:.1f} W idle", *active, *idle);
    } else {
      log::warn("calibrate: RAPL readings unusable; power from the base");
    }
  }
  if (!power_measured) out.from_base.push_back("cpu power");
  p.memory.clock_mhz = base.memory.clock_mhz;
  p.memory.active_power_w = base.memory.active_power_w;
  out.from_base.push_back("memory clock");
  out.from_base.push_back("memory power");

  if (base.has_gpu() && torch::cuda::is_available()) {
    log::info("calibrate: CUDA fp32 GEMM");
    p.gpu = base.gpu;
    p.gpu.peak_gmacs = measure_cuda_gemm_gmacs(quick ? 1024 : 8192, 5);
    out.measured.push_back("gpu peak_gmacs");
    out.from_base.push_back("gpu cores, clocks and power");
  } else if (torch::cuda::is_available()) {
    log::warn(
        "calibrate: CUDA is available but the base profile has no "
        "gpu: section to complete; gpu omitted");
  } else if (base.has_gpu()) {
    log::info("calibrate: no CUDA device; the base's gpu: section omitted");
  }

  p.source =
      fmt::format("adascale calibrate {}: measured {}; {} from {}",
                  options.date.empty() ? today() : options.date,
                  join(out.measured), join(out.from_base), options.base_label);
  try {
    core::validate_device_profile(p, "measured profile");
  } catch (const ConfigError& e) {
    // Noise on a busy machine, or a VM that gets less of a cache than the
    // OS reports (the curve shows where latency really jumps).
    throw Error(std::string("calibrate: ") + e.what() +
                " (a busy machine, or less cache than the OS reports? "
                "--set log_level=debug shows the latency curve)");
  }
  out.seconds = total.seconds();
  return out;
}

}  // namespace adascale::search
