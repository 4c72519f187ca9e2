#include "core/bundle_manifest.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/atomic_file.h"
#include "core/config/node.h"
#include "core/config/schema.h"
#include "core/error.h"
#include "core/sha256.h"
#include "core/variant.h"

namespace adascale::core {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw DataError(source + ": " + what);
}

std::string bundle_of(const std::string& dir) {
  return "bundle " + dir;
}

// A plain name: no separators, no "." or "..", nothing sha256sum would
// escape. Bundles are flat, so this is also what keeps a listed path inside.
bool is_plain_file_name(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 ||
        c == 0x7f)
      return false;
  }
  return true;
}

std::string to_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'F') c = char(c - 'A' + 'a');
  return s;
}

void validate(const BundleManifest& m, const std::string& source) {
  const ModelSpec& spec = m.model;
  if (!spec.elastic()) {
    fail(source, "model.architecture: a bundle holds an elastic net, got '" +
                     spec.architecture + "'");
  }
  if (int(m.classes.size()) != spec.classes) {
    fail(source, fmt::format("classes: {} names for model.classes = {}",
                             m.classes.size(), spec.classes));
  }
  const auto channels = size_t(spec.in_channels);
  if (m.normalization.mean.size() != channels ||
      m.normalization.std.size() != channels) {
    fail(source, fmt::format("normalization: mean and std need {} values "
                             "(model.in_channels), got {} and {}",
                             channels, m.normalization.mean.size(),
                             m.normalization.std.size()));
  }
  for (double s : m.normalization.std) {
    if (!(s > 0) || !std::isfinite(s))
      fail(source, fmt::format("normalization.std: must be > 0, got {}", s));
  }
  if (m.trunk.empty() || m.trunk.size() > spec.stages.size()) {
    fail(source, fmt::format("trunk: expected 1 to {} stages, got {}",
                             spec.stages.size(), m.trunk.size()));
  }
  (void)m.trunk_choices();  // names must be candidates
  VariantSpace space(spec);
  std::set<std::string> seen;
  for (size_t i = 0; i < m.variants.size(); ++i) {
    const BundleVariant& v = m.variants[i];
    const std::string where = fmt::format("variants[{}]", i);
    Variant parsed;
    try {
      parsed = space.parse(v.id);
    } catch (const UsageError& e) {
      fail(source, where + ".id: " + e.what());
    }
    if (parsed.exit + 1 != v.exit) {
      fail(source, fmt::format("{}.exit: {} ends at exit {}, not {}", where,
                               v.id, parsed.exit + 1, v.exit));
    }
    if (v.exit > int(m.trunk.size())) {
      fail(source, fmt::format("{}: {} uses exit {}, but only {} stage(s) were "
                               "trained",
                               where, v.id, v.exit, m.trunk.size()));
    }
    if (!seen.insert(v.id).second)
      fail(source, where + ".id: " + v.id + " listed twice");
  }
}

}  // namespace

const std::vector<std::string>& bundle_required_files() {
  static const std::vector<std::string> files = {
      kBundleManifestFile, kBundleWeightsFile, kBundleTablesFile};
  return files;
}

std::vector<int> BundleManifest::trunk_choices() const {
  std::vector<int> choices;
  for (size_t s = 0; s < trunk.size(); ++s) {
    if (s >= model.stages.size()) {
      throw DataError(fmt::format("manifest trunk: {} stages, the model has {}",
                                  trunk.size(), model.stages.size()));
    }
    const auto& cands = model.stages[s].candidates;
    auto it = std::find_if(
        cands.begin(), cands.end(),
        [&](const CandidateSpec& c) { return c.name == trunk[s]; });
    if (it == cands.end()) {
      std::vector<std::string> names;
      for (const auto& c : cands) names.push_back(c.name);
      throw DataError(
          fmt::format("manifest trunk[{}]: '{}' is not a candidate of stage {} "
                      "(candidates: {})",
                      s, trunk[s], s + 1, fmt::join(names, ", ")));
    }
    choices.push_back(int(it - cands.begin()));
  }
  return choices;
}

std::string manifest_yaml(const BundleManifest& manifest) {
  return "# AdaScale deployable bundle (DESIGN 3.6); SHA256SUMS lists every "
         "file.\n" +
         config::to_yaml(config::Writer::write_struct(manifest));
}

void check_manifest_format(const std::string& text, const std::string& source) {
  config::Node tree;
  try {
    tree = config::parse_yaml(text, source);
  } catch (const ConfigError& e) {
    // The parser's reason (bad YAML, an alias bomb) without its own
    // "<source>: " prefix, which fail() adds.
    std::string why = e.what();
    if (why.rfind(source + ": ", 0) == 0) why.erase(0, source.size() + 2);
    fail(source, "not an AdaScale bundle manifest: " + why);
  }
  const config::Node* format =
      tree.kind == config::Node::Kind::kMap ? tree.find("format") : nullptr;
  if (format == nullptr || format->kind != config::Node::Kind::kScalar ||
      format->scalar != kBundleFormat) {
    fail(source, std::string("not an AdaScale bundle manifest (no 'format: ") +
                     kBundleFormat + "')");
  }
  const config::Node* version = tree.find("format_version");
  int64_t found = -1;
  if (version != nullptr && version->kind == config::Node::Kind::kScalar) {
    const std::string& s = version->scalar;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), found);
    if (ec != std::errc() || end != s.data() + s.size()) found = -1;
  }
  if (found < 0) fail(source, "no valid format_version");
  if (found != kBundleFormatVersion) {
    fail(source, fmt::format("bundle format version {}, this build reads "
                             "version {}",
                             found, kBundleFormatVersion));
  }
}

BundleManifest parse_manifest(const std::string& text,
                              const std::string& source) {
  check_manifest_format(text, source);
  BundleManifest m;
  try {
    m = config::Reader::read_struct<BundleManifest>(
        config::parse_yaml(text, source));
    finalize_model_spec(m.model, source + ": model");
  } catch (const ConfigError& e) {
    throw DataError(e.what());
  }
  try {
    validate(m, source);
  } catch (const ConfigError& e) {
    throw DataError(source + ": " + e.what());
  } catch (const DataError& e) {
    const std::string what = e.what();
    if (what.rfind(source, 0) == 0) throw;
    throw DataError(source + ": " + what);
  }
  return m;
}

BundleManifest read_manifest(const std::string& path) {
  return parse_manifest(read_file(path), path);
}

std::string format_checksums(const std::vector<FileChecksum>& sums) {
  std::string out;
  for (const auto& s : sums) out += s.sha256 + "  " + s.file + "\n";
  return out;
}

std::vector<FileChecksum> parse_checksums(const std::string& text,
                                          const std::string& source) {
  std::vector<FileChecksum> sums;
  std::set<std::string> seen;
  size_t start = 0;
  int line_no = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    const std::string where = fmt::format("{}: line {}", source, line_no);
    // "<64 hex><space><space or *><name>": text and binary mode of sha256sum.
    if (line.size() < kSha256HexChars + 3 ||
        !is_sha256_hex(std::string_view(line).substr(0, kSha256HexChars)) ||
        line[kSha256HexChars] != ' ' ||
        (line[kSha256HexChars + 1] != ' ' &&
         line[kSha256HexChars + 1] != '*')) {
      throw DataError(where + ": not a '<sha256>  <file>' line");
    }
    FileChecksum sum;
    sum.sha256 = to_lower(line.substr(0, kSha256HexChars));
    sum.file = line.substr(kSha256HexChars + 2);
    if (!is_plain_file_name(sum.file)) {
      throw DataError(where + ": '" + sum.file +
                      "' is not a file inside the bundle");
    }
    if (!seen.insert(sum.file).second)
      throw DataError(where + ": " + sum.file + " listed twice");
    sums.push_back(std::move(sum));
  }
  if (sums.empty()) throw DataError(source + ": lists no files");
  return sums;
}

std::vector<FileChecksum> checksum_files(
    const std::string& dir, const std::vector<std::string>& files) {
  std::vector<FileChecksum> sums;
  for (const auto& name : files) {
    if (!is_plain_file_name(name))
      throw InternalError("checksum_files: '" + name + "' is not a file name");
    const std::string path = (fs::path(dir) / name).string();
    FileChecksum sum;
    sum.file = name;
    sum.sha256 = sha256_file_hex(path);
    std::error_code ec;
    sum.bytes = int64_t(fs::file_size(path, ec));
    if (ec) throw IoError(path + ": cannot stat: " + ec.message());
    sums.push_back(std::move(sum));
  }
  return sums;
}

std::vector<FileChecksum> verify_checksums(const std::string& dir) {
  const std::string bundle = bundle_of(dir);
  const std::string list = (fs::path(dir) / kBundleChecksumsFile).string();
  if (!fs::is_regular_file(fs::symlink_status(list))) {
    fail(bundle, std::string(kBundleChecksumsFile) + ": missing");
  }
  std::error_code size_ec;
  // A few lines per file: anything near this is not a checksum list.
  if (fs::file_size(list, size_ec) > (uintmax_t(1) << 20)) {
    fail(bundle, std::string(kBundleChecksumsFile) + ": larger than 1 MiB");
  }
  std::vector<FileChecksum> sums;
  try {
    sums = parse_checksums(read_file(list), kBundleChecksumsFile);
  } catch (const Error& e) {
    fail(bundle, e.what());
  }
  for (const auto& required : bundle_required_files()) {
    bool listed = std::any_of(sums.begin(), sums.end(), [&](const auto& s) {
      return s.file == required;
    });
    if (!listed) {
      fail(bundle,
           fmt::format("{}: not listed in {}", required, kBundleChecksumsFile));
    }
  }
  for (auto& sum : sums) {
    const fs::path path = fs::path(dir) / sum.file;
    // A link could point anywhere; bundles hold plain files only.
    const auto status = fs::symlink_status(path);
    if (!fs::exists(status)) fail(bundle, sum.file + ": missing");
    if (!fs::is_regular_file(status))
      fail(bundle, sum.file + ": not a regular file");
    std::string actual;
    try {
      actual = sha256_file_hex(path.string());
    } catch (const IoError& e) {
      fail(bundle, e.what());
    }
    if (actual != sum.sha256) {
      fail(bundle, sum.file +
                       ": SHA-256 mismatch (the file was changed, truncated "
                       "or corrupted after export)");
    }
    std::error_code ec;
    sum.bytes = int64_t(fs::file_size(path, ec));
  }
  return sums;
}

}  // namespace adascale::core
