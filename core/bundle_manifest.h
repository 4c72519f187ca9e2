#pragma once
/// The deployable bundle format (DESIGN §3.6), as pure data: a directory
/// `<name>.adascale/` holding
///
///     manifest.yaml   format and version, the model spec, the input
///                     normalisation, class names, trunk and variant list
///     weights.pt      the elastic net's parameters and buffers
///     tables.h5       the run's performance tables
///     SHA256SUMS      one `sha256sum` line per file above
///
/// This header reads and writes the manifest and the checksum list; the
/// weights are runtime/bundle.h's business. Readers check the format
/// version and every checksum before they trust any other byte.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/config/checks.h"
#include "core/dataset_config.h"
#include "core/model_spec.h"

namespace adascale::core {

/// The `format` key of every bundle manifest.
inline constexpr const char* kBundleFormat = "adascale-bundle";
/// Bumped whenever a bundle file changes meaning or layout; a bundle of
/// another version is refused.
inline constexpr int64_t kBundleFormatVersion = 1;

inline constexpr const char* kBundleManifestFile = "manifest.yaml";
inline constexpr const char* kBundleWeightsFile = "weights.pt";
inline constexpr const char* kBundleTablesFile = "tables.h5";
inline constexpr const char* kBundleChecksumsFile = "SHA256SUMS";

/// The files every bundle holds and SHA256SUMS must list.
const std::vector<std::string>& bundle_required_files();

/// Per-channel input normalisation on the 0..1 pixel scale: the network
/// expects `(pixel / 255 - mean[c]) / std[c]`.
struct InputNormalization {
  std::vector<double> mean;
  std::vector<double> std;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("mean", mean, "per channel, 0..1 pixel scale");
    v("std", std, "per channel, 0..1 pixel scale");
  }
};

/// One variant the bundle offers, with its validation accuracy.
struct BundleVariant {
  std::string id;  ///< "e2:basic.fire" (core::VariantSpace text form)
  int exit = 1;    ///< 1-based
  /// Validation top-1 in [0, 1] from tables.h5; NaN when not scored.
  double validation_top1 = std::numeric_limits<double>::quiet_NaN();

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("id", id);
    v("exit", exit, check::in_range(1, 64), "1-based exit");
    v("validation_top1", validation_top1, "NaN when not scored");
  }
};

/// Contents of manifest.yaml.
struct BundleManifest {
  std::string format = kBundleFormat;
  int64_t format_version = kBundleFormatVersion;
  std::string created_by;  ///< "adascale 0.1.0"
  std::string source;      ///< the run directory it was exported from
  /// The resolved elastic-net spec; finalize_model_spec() rebuilds it.
  ModelSpec model;
  InputNormalization normalization;
  /// Label → name, `model.classes` entries.
  std::vector<std::string> classes;
  /// Candidate name chosen at each trained stage: exits 1..trunk.size()
  /// are usable.
  std::vector<std::string> trunk;
  /// Every usable variant, in packed-key order.
  std::vector<BundleVariant> variants;
  /// The dataset the net was trained on (format, root, splits): where the
  /// demo finds a test split to classify. Its root may not exist on the
  /// machine the bundle goes to; the demo's `data:` key overrides it.
  DatasetConfig dataset;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("format", format, "always adascale-bundle");
    v("format_version", format_version, "bundle layout version");
    v("created_by", created_by);
    v("source", source, "run directory exported");
    v("model", model, "elastic-net spec");
    v("normalization", normalization);
    v("classes", classes, "class names by label");
    v("trunk", trunk, "trunk candidate per trained stage");
    v("variants", variants);
    v("dataset", dataset, "the training data: format, root, splits");
  }

  /// The trunk as candidate indices per stage.
  std::vector<int> trunk_choices() const;
};

/// The manifest as YAML.
std::string manifest_yaml(const BundleManifest& manifest);

/// Checks only the `format` and `format_version` keys of manifest text, so
/// that a bundle of another version is refused by its version, before its
/// checksums or fields are looked at. Throws DataError naming `source`
/// (and both versions).
void check_manifest_format(const std::string& text, const std::string& source);

/// Parses and validates manifest text: format and version, every field,
/// the model spec, and that classes, normalisation, trunk and variants fit
/// the model. Throws DataError naming `source`.
BundleManifest parse_manifest(const std::string& text,
                              const std::string& source);

/// read_file() + parse_manifest(). Throws IoError / DataError.
BundleManifest read_manifest(const std::string& path);

/// One line of SHA256SUMS.
struct FileChecksum {
  std::string file;    ///< a plain file name inside the bundle
  std::string sha256;  ///< 64 lower-case hex digits
  int64_t bytes = 0;   ///< size, filled by checksum_files/verify_checksums
};

/// `sha256sum`-compatible lines ("<hex>  <file>\n"): `sha256sum -c` in the
/// bundle directory checks them.
std::string format_checksums(const std::vector<FileChecksum>& sums);

/// Parses SHA256SUMS text (text or binary mode lines). Refuses malformed
/// lines, duplicates and any name that is not a plain file name inside the
/// bundle (absolute, `..`, subdirectories). Throws DataError naming
/// `source` and the line.
std::vector<FileChecksum> parse_checksums(const std::string& text,
                                          const std::string& source);

/// Checksums of `files` inside `dir`. Throws IoError naming the file.
std::vector<FileChecksum> checksum_files(const std::string& dir,
                                         const std::vector<std::string>& files);

/// Reads `dir`/SHA256SUMS and checks that it lists every required file and
/// that every listed file is a regular file of `dir` with that digest.
/// Returns the verified list. Throws DataError naming the bundle and the
/// file at fault.
std::vector<FileChecksum> verify_checksums(const std::string& dir);

}  // namespace adascale::core
