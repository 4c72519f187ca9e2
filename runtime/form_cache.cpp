#include "runtime/form_cache.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/version.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/sha256.h"

namespace adascale::runtime {
namespace {

// Bounds on what a block line may claim, so a damaged file cannot make the
// reader allocate without limit.
constexpr size_t kMaxThreadCounts = 64;
constexpr size_t kMaxRounds = 100000;

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return text;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) break;
    auto start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "unknown cpu";
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "unknown host";
  return name;
}

// Splits "key rest of line" at the first space.
bool split_field(const std::string& line, const std::string& key,
                 std::string& value) {
  if (line.size() < key.size() + 1 || line.compare(0, key.size(), key) != 0 ||
      line[key.size()] != ' ') {
    return false;
  }
  value = line.substr(key.size() + 1);
  return true;
}

FormCacheRead corrupt(const std::string& path, const std::string& why) {
  return {FormCacheStatus::kCorrupt, {}, path + ": " + why};
}

FormCacheRead stale(const std::string& path, const std::string& why) {
  return {FormCacheStatus::kStale, {}, path + ": " + why};
}

}  // namespace

std::string machine_description(int threads) {
  return one_line(fmt::format(
      "cpu={}; logical_cpus={}; host={}; libtorch={}; build={}; threads={}",
      cpu_model(), std::thread::hardware_concurrency(), host_name(),
      TORCH_VERSION, core::sha256_hex(at::show_config()).substr(0, 16),
      threads));
}

std::string weights_fingerprint(const torch::nn::Module& module) {
  std::string listing;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    listing += fmt::format(
        "{} {} {} {}\n", name, c10::toString(c.scalar_type()),
        fmt::join(c.sizes(), "x"),
        core::sha256_hex(std::string_view(
            static_cast<const char*>(c.data_ptr()), size_t(c.nbytes()))));
  };
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    add(p.key(), p.value());
  }
  for (const auto& b : module.named_buffers(/*recurse=*/true)) {
    add(b.key(), b.value());
  }
  return core::sha256_hex(listing);
}

std::string form_cache_path(const std::string& dir, const FormCacheKey& key) {
  const std::string id =
      core::sha256_hex(key.machine + "\n" + key.settings).substr(0, 16);
  return (std::filesystem::path(dir) / ("forms-" + id + ".txt")).string();
}

std::string to_string(FormCacheStatus status) {
  switch (status) {
    case FormCacheStatus::kHit:
      return "hit";
    case FormCacheStatus::kMissing:
      return "missing";
    case FormCacheStatus::kStale:
      return "stale";
    case FormCacheStatus::kCorrupt:
      return "corrupt";
  }
  return "?";
}

FormCacheRead read_form_cache(const std::string& path, const FormCacheKey& key,
                              const std::vector<std::string>& blocks) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return {FormCacheStatus::kMissing, {}, path + ": no form cache yet"};
  }
  std::string text;
  try {
    text = core::read_file(path);
  } catch (const Error& e) {
    return corrupt(path, e.what());
  }
  // The checksum line covers every byte before it, so any edit, truncation
  // or torn write shows before a single field is believed.
  if (text.empty() || text.back() != '\n') {
    return corrupt(path, "truncated (no final newline)");
  }
  const size_t last = text.rfind('\n', text.size() - 2);
  const std::string body =
      last == std::string::npos ? std::string() : text.substr(0, last + 1);
  std::string sum;
  if (!split_field(text.substr(body.size(), text.size() - body.size() - 1),
                   "sha256", sum)) {
    return corrupt(path, "no sha256 line at the end");
  }
  if (sum != core::sha256_hex(body)) {
    return corrupt(path, "sha256 does not match the contents");
  }
  std::istringstream in(body);
  std::string line;
  if (!std::getline(in, line) || line != kFormCacheFormat) {
    // Another version of the format is the normal first start after an
    // upgrade, not damage.
    if (line.rfind("adascale-engine-forms ", 0) == 0) {
      return stale(path, "written in another format (" + line + ")");
    }
    return corrupt(path, "format is not '" + std::string(kFormCacheFormat) +
                             "', got '" + line + "'");
  }
  std::string machine, settings, weights;
  if (!std::getline(in, line) || !split_field(line, "machine", machine) ||
      !std::getline(in, line) || !split_field(line, "settings", settings) ||
      !std::getline(in, line) || !split_field(line, "weights", weights)) {
    return corrupt(path, "missing machine, settings or weights line");
  }
  if (machine != key.machine) {
    return stale(path,
                 "made on another machine or LibTorch build (" + machine + ")");
  }
  if (settings != key.settings) {
    return stale(path, "made with other engine settings (" + settings + ")");
  }
  if (weights != key.weights) {
    return stale(path, "made for other weights");
  }
  FormCacheRead read;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string tag, form, rule;
    CachedForm f;
    size_t counts = 0;
    if (!(fields >> tag >> f.block >> form >> rule >> f.eager_ms >>
          f.optimized_ms >> f.int8_ms >> f.xnnpack_ms >> f.p_value >> f.gain >>
          counts) ||
        tag != "block" || counts > kMaxThreadCounts) {
      return corrupt(path, "bad block line '" + line + "'");
    }
    for (size_t c = 0; c < counts; ++c) {
      ThreadSamples t;
      size_t rounds = 0;
      if (!(fields >> t.threads >> rounds) || t.threads < 1 ||
          rounds > kMaxRounds) {
        return corrupt(path, "bad thread samples in '" + f.block + "'");
      }
      t.ms.resize(rounds);
      for (double& ms : t.ms) {
        if (!(fields >> ms)) {
          return corrupt(path, "bad thread samples in '" + f.block + "'");
        }
      }
      f.threads.push_back(std::move(t));
    }
    try {
      f.form = parse_form(form);
      f.rule = parse_form_rule(rule);
    } catch (const DataError& e) {
      return corrupt(path, e.what());
    }
    read.forms.push_back(f);
  }
  if (read.forms.size() != blocks.size()) {
    return stale(path, fmt::format("holds {} blocks, the net has {}",
                                   read.forms.size(), blocks.size()));
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (read.forms[i].block != blocks[i]) {
      return stale(path, fmt::format("block {} is '{}', the net's is '{}'", i,
                                     read.forms[i].block, blocks[i]));
    }
  }
  read.status = FormCacheStatus::kHit;
  return read;
}

void write_form_cache(const std::string& path, const FormCacheKey& key,
                      const std::vector<CachedForm>& forms) {
  std::string body = std::string(kFormCacheFormat) + "\n";
  body += "machine " + one_line(key.machine) + "\n";
  body += "settings " + one_line(key.settings) + "\n";
  body += "weights " + one_line(key.weights) + "\n";
  for (const CachedForm& f : forms) {
    body += fmt::format(
        "block {} {} {} {:.6g} {:.6g} {:.6g} {:.6g} {:.6g} {:.6g} {}", f.block,
        to_string(f.form), to_string(f.rule), f.eager_ms, f.optimized_ms,
        f.int8_ms, f.xnnpack_ms, f.p_value, f.gain, f.threads.size());
    for (const ThreadSamples& t : f.threads) {
      // Shortest round-trip form: a cached start recomputes the variants'
      // thread counts from exactly the samples the first start used.
      body += fmt::format(" {} {} {}", t.threads, t.ms.size(),
                          fmt::join(t.ms, " "));
    }
    body += "\n";
  }
  core::make_parent_directories(path);
  core::write_file_atomic(path,
                          body + "sha256 " + core::sha256_hex(body) + "\n");
}

}  // namespace adascale::runtime
