#include "runtime/bundle.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/logging.h"
#include "core/sha256.h"
#include "core/variant.h"
#include "core/version.h"
#include "operators/archive_check.h"
#include "operators/weight_loading.h"
#include "search/performance_tables.h"

namespace adascale::runtime {
namespace {

namespace fs = std::filesystem;

constexpr uintmax_t kMaxManifestBytes = uintmax_t(4) << 20;

// "out/x.adascale/" names the same directory as "out/x.adascale".
fs::path clean_path(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p;
}

bool looks_like_bundle(const fs::path& dir) {
  return fs::is_directory(dir) && fs::exists(dir / core::kBundleManifestFile) &&
         fs::exists(dir / core::kBundleChecksumsFile);
}

void fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

[[noreturn]] void io_fail(const std::string& path, const char* what) {
  throw IoError(path + ": " + what + ": " + std::strerror(errno));
}

// Moves the finished temporary directory into place: atomically when the
// target is new (RENAME_NOREPLACE) and, with --force, by atomically
// exchanging it with the old bundle, which is then removed.
void install(const fs::path& tmp, const fs::path& target, bool replace) {
  if (!replace) {
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(),
                    RENAME_NOREPLACE) == 0)
      return;
    if (errno == EEXIST)
      throw IoError(target.string() + ": already exists; pass --force");
    if (errno != EINVAL && errno != ENOSYS)
      io_fail(target.string(), "rename failed");
    // A filesystem without renameat2 flags: the check above must do.
    if (fs::exists(target))
      throw IoError(target.string() + ": already exists; pass --force");
    if (::rename(tmp.c_str(), target.c_str()) != 0)
      io_fail(target.string(), "rename failed");
    return;
  }
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(),
                  RENAME_EXCHANGE) == 0) {
    fs::remove_all(tmp);  // now the old bundle
    return;
  }
  if (errno != EINVAL && errno != ENOSYS)
    io_fail(target.string(), "rename failed");
  fs::path old = tmp;
  old += ".old";
  if (::rename(target.c_str(), old.c_str()) != 0)
    io_fail(target.string(), "rename failed");
  if (::rename(tmp.c_str(), target.c_str()) != 0)
    io_fail(target.string(), "rename failed");
  fs::remove_all(old);
}

// Removes the temporary directory unless the bundle was installed.
class TempDirGuard {
 public:
  explicit TempDirGuard(fs::path path) : path_(std::move(path)) {}
  ~TempDirGuard() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDirGuard(const TempDirGuard&) = delete;
  TempDirGuard& operator=(const TempDirGuard&) = delete;
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

void check_metadata(const operators::ElasticNet& net,
                    const BundleMetadata& meta) {
  const core::ModelSpec& spec = net->spec();
  if (int(meta.class_names.size()) != spec.classes) {
    throw UsageError(
        fmt::format("bundle: {} class names for a net of {} classes",
                    meta.class_names.size(), spec.classes));
  }
  const auto channels = size_t(spec.in_channels);
  if (meta.normalization.mean.size() != channels ||
      meta.normalization.std.size() != channels) {
    throw UsageError(fmt::format(
        "bundle: the normalisation needs {} means and stds", channels));
  }
  if (meta.trunk.empty() || int(meta.trunk.size()) > net->num_stages()) {
    throw UsageError(fmt::format("bundle: trunk of {} stages for a net of {}",
                                 meta.trunk.size(), net->num_stages()));
  }
  for (size_t s = 0; s < meta.trunk.size(); ++s) {
    if (meta.trunk[s] < 0 ||
        size_t(meta.trunk[s]) >= spec.stages[s].candidates.size()) {
      throw UsageError(
          fmt::format("bundle: trunk choice {} of stage {} is not "
                      "a candidate",
                      meta.trunk[s], s + 1));
    }
  }
}

core::BundleManifest make_manifest(const operators::ElasticNet& net,
                                   const BundleMetadata& meta,
                                   const search::PerformanceTables& tables) {
  const core::ModelSpec& spec = net->spec();
  core::BundleManifest m;
  m.created_by = std::string("adascale ") + kVersion;
  m.source = meta.source;
  m.model = spec;
  m.normalization = meta.normalization;
  m.classes = meta.class_names;
  m.dataset = meta.dataset;
  for (size_t s = 0; s < meta.trunk.size(); ++s)
    m.trunk.push_back(spec.stages[s].candidates[size_t(meta.trunk[s])].name);
  std::map<uint64_t, double> top1;
  for (const auto& e : tables.index) top1[e.key] = e.validation_top1;
  const core::VariantSpace& space = net->variants();
  for (const core::Variant& v : space.up_to_exit(int(meta.trunk.size()))) {
    core::BundleVariant bv;
    bv.id = space.to_string(v);
    bv.exit = v.exit + 1;
    auto it = top1.find(space.pack(v));
    if (it != top1.end()) bv.validation_top1 = it->second;
    m.variants.push_back(std::move(bv));
  }
  return m;
}

// Every dimension of every tensor stored under `archive`, nested archives
// (submodules) included.
void stored_dims(torch::serialize::InputArchive& archive,
                 std::set<int64_t>& dims, int depth = 0) {
  if (depth > 16) return;
  for (const std::string& key : archive.keys()) {
    torch::Tensor t;
    if (archive.try_read(key, t)) {
      for (int64_t d : t.sizes()) dims.insert(d);
      continue;
    }
    torch::serialize::InputArchive child;
    if (archive.try_read(key, child)) stored_dims(child, dims, depth + 1);
  }
}

// Holds the manifest's model against weights.pt before the net is built:
// building allocates every candidate of every stage, so a manifest that
// says out_channels 16384 or depth 64 over small weights would take
// gigabytes before load_weights_checked() could object. Each module the
// spec names must be stored with its deepest block; the stem's channels
// and each exit's classes must be a stored size; and a stage's widest
// stored weight must be at least a quarter of its out_channels (the
// narrowest operator output is an Inception branch of out / 4), which
// bounds every layer built by what the file holds.
void check_spec_against_weights(const core::ModelSpec& spec,
                                torch::serialize::InputArchive& weights,
                                const std::string& source) {
  const std::string prefix = source + ": weights do not fit the model: ";
  auto module = [&](const std::string& name) {
    torch::serialize::InputArchive child;
    if (!weights.try_read(name, child)) {
      throw DataError(prefix + "the manifest's model has " + name +
                      ", the stored weights do not");
    }
    return child;
  };
  auto sizes = [](torch::serialize::InputArchive& child) {
    std::set<int64_t> dims;
    stored_dims(child, dims);
    return dims;
  };
  auto require_size = [&](torch::serialize::InputArchive& child,
                          const std::string& name, const char* what,
                          int64_t size) {
    if (sizes(child).count(size) == 0) {
      throw DataError(fmt::format(
          "{}the manifest gives {} {} = {}, but no stored weight of {} has "
          "that size",
          prefix, name, what, size, name));
    }
  };
  torch::serialize::InputArchive stem = module("stem");
  require_size(stem, "stem", "channels", spec.stem.channels);
  for (size_t i = 0; i < spec.stages.size(); ++i) {
    const core::StageSpec& stage = spec.stages[i];
    for (const core::CandidateSpec& cand : stage.candidates) {
      const std::string name = fmt::format("stage{}_{}", i + 1, cand.name);
      torch::serialize::InputArchive blocks = module(name);
      const int depth = cand.depth > 0 ? cand.depth : stage.depth;
      torch::serialize::InputArchive last;
      if (!blocks.try_read(std::to_string(depth - 1), last)) {
        throw DataError(fmt::format(
            "{}the manifest gives {} {} blocks, but the stored weights have "
            "fewer",
            prefix, name, depth));
      }
      const std::set<int64_t> dims = sizes(blocks);
      const int64_t widest = dims.empty() ? 0 : *dims.rbegin();
      if (4 * widest < stage.out_channels) {
        throw DataError(fmt::format(
            "{}the manifest gives {} out_channels = {}, but its widest "
            "stored weight has {} channels",
            prefix, name, stage.out_channels, widest));
      }
    }
    const std::string exit = fmt::format("exit{}", i + 1);
    torch::serialize::InputArchive head = module(exit);
    require_size(head, exit, "classes", spec.classes);
  }
}

std::string serialize_weights(const operators::ElasticNet& net) {
  torch::serialize::OutputArchive archive;
  net->save(archive);
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

}  // namespace

core::BundleManifest write_bundle(const std::string& dir,
                                  const operators::ElasticNet& net,
                                  const BundleMetadata& metadata,
                                  const std::string& tables_path, bool force) {
  check_metadata(net, metadata);
  const fs::path target = clean_path(dir);
  if (target.empty() || target.filename() == "." || target.filename() == "..")
    throw UsageError("bundle: '" + dir + "' is not a directory name to create");
  const bool exists = fs::exists(fs::symlink_status(target));
  if (exists && !force) {
    throw IoError(target.string() +
                  ": already exists; pass --force to replace it");
  }
  if (exists && !looks_like_bundle(target)) {
    throw IoError(target.string() +
                  ": exists and is not an AdaScale bundle; refusing to "
                  "replace it");
  }
  if (!fs::is_regular_file(tables_path)) {
    throw IoError(tables_path + ": no such file");
  }
  const search::PerformanceTables tables = search::read_tables(tables_path);
  const core::BundleManifest manifest = make_manifest(net, metadata, tables);

  const fs::path parent =
      target.has_parent_path() ? target.parent_path() : fs::path(".");
  // Like `train --run runs/NAME`, the parent is made when it is missing.
  core::make_parent_directories(target.string());
  // mkdtemp: a fresh directory of its own, never one planted at a
  // predictable name.
  std::string tmp_name =
      (parent / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  if (::mkdtemp(tmp_name.data()) == nullptr) {
    throw IoError(tmp_name + ": cannot create: " + std::strerror(errno));
  }
  const fs::path tmp(tmp_name);
  TempDirGuard guard(tmp);
  auto file = [&](const char* name) { return (tmp / name).string(); };
  core::write_file_atomic(file(core::kBundleWeightsFile),
                          serialize_weights(net));
  core::write_file_atomic(file(core::kBundleTablesFile),
                          core::read_file(tables_path));
  core::write_file_atomic(file(core::kBundleManifestFile),
                          core::manifest_yaml(manifest));
  core::write_file_atomic(file(core::kBundleChecksumsFile),
                          core::format_checksums(core::checksum_files(
                              tmp.string(), core::bundle_required_files())));
  fsync_directory(tmp);
  install(tmp, target, exists);
  guard.release();
  fsync_directory(parent);
  log::info("bundle {}: {} variants, {} classes", target.string(),
            manifest.variants.size(), manifest.classes.size());
  return manifest;
}

LoadedBundle load_bundle(const std::string& dir) {
  const std::string bundle = "bundle " + dir;
  const fs::path root(dir);
  if (!fs::exists(root)) throw IoError(bundle + ": no such directory");
  if (!fs::is_directory(root)) {
    throw DataError(bundle + ": not an AdaScale bundle (not a directory)");
  }
  const fs::path manifest_path = root / core::kBundleManifestFile;
  if (!fs::is_regular_file(fs::symlink_status(manifest_path))) {
    throw DataError(bundle + ": not an AdaScale bundle (no " +
                    core::kBundleManifestFile + ")");
  }
  const std::string manifest_source = bundle + ": " + core::kBundleManifestFile;
  // Bounded before it is read: a manifest is a few KiB of YAML.
  std::error_code size_ec;
  if (fs::file_size(manifest_path, size_ec) > kMaxManifestBytes) {
    throw DataError(manifest_source + ": larger than 4 MiB; not a manifest");
  }
  // The version first: a newer bundle may checksum differently.
  const std::string manifest_text = core::read_file(manifest_path.string());
  core::check_manifest_format(manifest_text, manifest_source);

  LoadedBundle out;
  out.dir = dir;
  out.files = core::verify_checksums(dir);
  auto listed = [&](const std::string& name) -> const core::FileChecksum& {
    for (const auto& f : out.files)
      if (f.file == name) return f;
    throw InternalError("verify_checksums let " + name + " through unlisted");
  };
  // The bytes parsed are the bytes verified, even if a file is swapped
  // between the check and the read.
  if (core::sha256_hex(manifest_text) !=
      listed(core::kBundleManifestFile).sha256) {
    throw DataError(manifest_source + ": changed while being verified");
  }
  out.manifest = core::parse_manifest(manifest_text, manifest_source);
  out.spec = out.manifest.model;
  out.normalization = out.manifest.normalization;
  out.class_names = out.manifest.classes;
  out.trunk = out.manifest.trunk_choices();
  out.tables_path = (root / core::kBundleTablesFile).string();

  const std::string weights_source = bundle + ": " + core::kBundleWeightsFile;
  const std::string weights =
      core::read_file((root / core::kBundleWeightsFile).string());
  if (core::sha256_hex(weights) != listed(core::kBundleWeightsFile).sha256) {
    throw DataError(weights_source + ": changed while being verified");
  }
  // The weights are read first: they bound what the manifest may ask to
  // be built (check_spec_against_weights).
  torch::serialize::InputArchive archive;
  try {
    // Bounds what LibTorch's unpickler allocates (operators/archive_check.h).
    operators::check_archive_pickles(weights, weights_source);
    std::istringstream in(weights);
    archive.load_from(in, torch::kCPU);  // a bundle opens on the CPU
  } catch (const std::exception&) {
    // A damaged pickle fails as c10::Error, and also as std::out_of_range
    // and the like from inside the unpickler.
    throw DataError(weights_source + ": not a readable weights archive");
  }
  try {
    check_spec_against_weights(out.spec, archive, weights_source);
  } catch (const DataError&) {
    throw;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw DataError(weights_source + ": not a readable weights archive: " +
                    what.substr(0, what.find('\n')));
  }
  try {
    out.net = operators::ElasticNet(out.spec);
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    throw DataError(manifest_source + ": cannot build the model: " +
                    what.substr(0, what.find('\n')));
  }
  try {
    operators::load_weights_checked(*out.net, archive);
  } catch (const DataError& e) {
    throw DataError(weights_source + ": " + e.what());
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw DataError(weights_source + ": weights do not load: " +
                    what.substr(0, what.find('\n')));
  }
  out.net->eval();
  return out;
}

}  // namespace adascale::runtime
