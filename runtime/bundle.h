#pragma once
/// Deployable bundles (DESIGN §3.6): a trained elastic net, its input
/// normalisation, class names, trunk, variant list and performance tables
/// in one checksummed directory `<name>.adascale/`. The format itself
/// (manifest, SHA256SUMS) is core/bundle_manifest.h; this file adds the
/// weights.
///
/// Loading checks the manifest's format version, then every SHA-256 in
/// SHA256SUMS, and only then deserialises weights.pt, so a tampered,
/// truncated, foreign or wrong-version bundle is refused before any weight
/// is read.

#include <string>
#include <vector>

#include "core/bundle_manifest.h"
#include "core/model_spec.h"
#include "operators/elastic_net.h"

namespace adascale::runtime {

/// What a bundle says about a trained net besides its weights.
struct BundleMetadata {
  /// The normalisation the net was trained with (0..1 pixel scale).
  core::InputNormalization normalization;
  /// Label → name; one per class of the net's spec.
  std::vector<std::string> class_names;
  /// Trunk choice of every trained stage (1 to num_stages entries): the
  /// bundle offers the variants that end at those stages' exits.
  std::vector<int> trunk;
  /// Where it came from (the run directory), for people.
  std::string source;
  /// The data it was trained on (format and root of the test split).
  core::DatasetConfig dataset;
};

/// Writes the bundle `dir`: manifest.yaml, weights.pt (every parameter and
/// buffer of `net`), a copy of `tables_path` (a tables.h5, read first so a
/// foreign file is refused; it gives the variants' validation top-1) and
/// SHA256SUMS. The bundle is built in a temporary directory beside `dir`,
/// fsynced and renamed into place, so `dir` is never seen half-written.
/// An existing `dir` is an IoError unless `force`, and even then only an
/// earlier bundle is replaced. Throws UsageError (metadata that does not
/// fit the net), IoError, DataError (the tables file). Returns the manifest
/// written.
core::BundleManifest write_bundle(const std::string& dir,
                                  const operators::ElasticNet& net,
                                  const BundleMetadata& metadata,
                                  const std::string& tables_path,
                                  bool force = false);

/// A verified bundle with its net built and loaded (eval mode).
struct LoadedBundle {
  std::string dir;
  core::BundleManifest manifest;
  core::ModelSpec spec;  ///< == manifest.model
  operators::ElasticNet net{nullptr};
  core::InputNormalization normalization;
  std::vector<std::string> class_names;
  std::vector<int> trunk;   ///< candidate index per trained stage
  std::string tables_path;  ///< dir/tables.h5, checksum verified
  /// The files SHA256SUMS lists, all verified, with their sizes.
  std::vector<core::FileChecksum> files;
};

/// Verifies and loads the bundle `dir`: format version, then every
/// checksum, then the manifest's fields, then the weights. Every failure
/// is a DataError (IoError when a file cannot be read) naming the bundle
/// and the file at fault.
LoadedBundle load_bundle(const std::string& dir);

}  // namespace adascale::runtime
