// `adascale export --run DIR --out NAME.adascale`: a trained elastic run as a
// deployable bundle (DESIGN §3.6): manifest.yaml (format version, model
// spec, input normalisation, class names, trunk, variants with validation
// top-1), weights.pt, the run's tables.h5 and SHA256SUMS.
// `adascale export --run DIR --torchscript VARIANT --out F.pt`: one variant
// as a TorchScript module that Python's torch.jit.load runs.

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/adascale/command.h"
#include "apps/adascale/run_loading.h"
#include "core/atomic_file.h"
#include "core/bundle_manifest.h"
#include "core/error.h"
#include "core/logging.h"
#include "core/path_lock.h"
#include "core/version.h"
#include "datasets/dataset_factory.h"
#include "runtime/bundle.h"
#include "runtime/module_tracer.h"

namespace adascale::app {
namespace {

namespace fs = std::filesystem;

struct ExportOptions {
  std::string run;
  std::string out;
  std::string torchscript;  ///< variant id; empty: a bundle
  std::vector<std::string> sets;
  bool force = false;
  bool json = false;
};

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> names = {
      "airplane", "automobile", "bird",  "cat",  "deer",
      "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

// Class names for when the dataset cannot be read: CIFAR-10's are known,
// any other set is numbered.
std::vector<std::string> fallback_class_names(const std::string& format,
                                              int classes) {
  if (format == "cifar10" && classes == 10) return cifar10_class_names();
  std::vector<std::string> names;
  for (int k = 0; k < classes; ++k) names.push_back(std::to_string(k));
  return names;
}

struct DataFacts {
  core::InputNormalization normalization;
  std::vector<std::string> class_names;
};

// The normalisation the run trained with and its class names, both from
// the dataset as training saw it. A run whose config states mean and std
// can still be exported when its dataset has gone.
DataFacts data_facts(const core::RunConfig& config, int classes) {
  DataFacts facts;
  const core::DatasetConfig& d = config.dataset;
  try {
    datasets::DatasetSplits splits = datasets::load_dataset(d);
    datasets::Normalization n = datasets::resolve_normalization(d, splits);
    facts.normalization = {n.mean, n.std};
    facts.class_names = splits.train.class_names;
  } catch (const Error& e) {
    if (d.mean.empty()) {
      throw DataError(std::string(e.what()) +
                      "; export needs the training split for the input "
                      "normalisation (or set dataset.mean and dataset.std)");
    }
    log::warn("export: {}; using the configured normalisation", e.what());
    facts.normalization = {d.mean, d.std};
    facts.class_names = fallback_class_names(d.format, classes);
  }
  if (int(facts.class_names.size()) != classes) {
    throw DataError(
        fmt::format("export: the dataset ({}) has {} classes, the model {}",
                    d.format, facts.class_names.size(), classes));
  }
  return facts;
}

LoadedRun load_elastic_run(const ExportOptions& opt) {
  LoadedRun run = load_run(opt.run, opt.sets);
  if (!run.spec.elastic()) {
    throw UsageError(fmt::format(
        "export: {} trains the zoo model '{}'; export takes an elastic net",
        opt.run, run.spec.name));
  }
  // Bundles and TorchScript files hold CPU tensors, loadable on any
  // machine; the run may have been loaded onto a GPU.
  run.net->to(torch::kCPU);
  return run;
}

void refuse_existing(const std::string& out, bool force) {
  if (!force && fs::exists(fs::symlink_status(out)))
    throw IoError(out + ": already exists; pass --force to replace it");
}

void export_torchscript(const ExportOptions& opt) {
  // One writer per output: a second export into it is refused by name.
  const core::PathLock lock = core::PathLock::acquire(opt.out, "export");
  refuse_existing(opt.out, opt.force);
  LoadedRun run = load_elastic_run(opt);
  const core::VariantSpace& space = run.net->variants();
  const core::Variant variant = space.parse(opt.torchscript);
  if (variant.exit >= int(run.trunk.size())) {
    throw UsageError(fmt::format(
        "export: --torchscript {}: exit {} was not trained yet (trained "
        "exits: 1..{})",
        opt.torchscript, variant.exit + 1, run.trunk.size()));
  }
  const core::ModelSpec& spec = run.spec;
  auto net = run.net;
  // Only the variant's blocks: the module carries this variant's weights,
  // not every candidate's.
  const std::shared_ptr<torch::nn::Module> used = net->variant_members(variant);
  torch::jit::Module module = runtime::trace_module(
      *used, [&](const torch::Tensor& x) { return net->forward(x, variant); },
      torch::zeros({1, spec.in_channels, spec.resolution, spec.resolution}),
      "ElasticNetVariant");

  // What a Python user needs beside the graph, readable with
  // torch.jit.load(f, _extra_files={"adascale.json": ""}).
  nlohmann::json meta;
  meta["created_by"] = std::string("adascale ") + kVersion;
  meta["source"] = run.dir;
  meta["model"] = spec.name;
  meta["variant"] = space.to_string(variant);
  meta["input"] = {1, spec.in_channels, spec.resolution, spec.resolution};
  meta["classes"] = spec.classes;
  try {
    DataFacts facts = data_facts(run.config, spec.classes);
    meta["normalization"] = {{"mean", facts.normalization.mean},
                             {"std", facts.normalization.std}};
    meta["class_names"] = facts.class_names;
  } catch (const DataError& e) {
    log::warn("export: {}; the module's metadata has no normalisation",
              e.what());
  }
  torch::jit::ExtraFilesMap extra{{"adascale.json", meta.dump()}};
  std::ostringstream bytes;
  module.save(bytes, extra);
  refuse_existing(opt.out, opt.force);
  core::make_parent_directories(opt.out);
  core::write_file_atomic(opt.out, bytes.str());

  nlohmann::json report = meta;
  report["torchscript"] = opt.out;
  report["bytes"] = bytes.str().size();
  if (opt.json) {
    fmt::print("{}\n", report.dump());
    return;
  }
  fmt::print(
      "TorchScript module of {} written to {} ({:.2f} MB): forward(x) takes "
      "a {} batch normalised as in the bundle manifest\n",
      meta["variant"].get<std::string>(), opt.out,
      double(bytes.str().size()) / (1024.0 * 1024.0),
      fmt::format("Nx{}x{}x{}", spec.in_channels, spec.resolution,
                  spec.resolution));
}

void export_bundle(const ExportOptions& opt) {
  const core::PathLock lock = core::PathLock::acquire(opt.out, "export");
  refuse_existing(opt.out, opt.force);
  LoadedRun run = load_elastic_run(opt);
  const std::string tables = (fs::path(run.dir) / "tables.h5").string();
  if (!fs::exists(tables)) {
    throw IoError(fmt::format(
        "{}: no such file; a bundle carries the run's tables: run `adascale "
        "tables --run {}` first",
        tables, opt.run));
  }
  DataFacts facts = data_facts(run.config, run.spec.classes);
  runtime::BundleMetadata meta;
  meta.normalization = facts.normalization;
  meta.class_names = facts.class_names;
  meta.trunk = run.trunk;
  meta.source = run.dir;
  meta.dataset = run.config.dataset;
  core::BundleManifest manifest =
      runtime::write_bundle(opt.out, run.net, meta, tables, opt.force);
  // Read back as a loader would: the files on disk are what was meant.
  std::vector<core::FileChecksum> files = core::verify_checksums(opt.out);

  nlohmann::json report;
  report["bundle"] = opt.out;
  report["format_version"] = manifest.format_version;
  report["model"] = manifest.model.name;
  report["classes"] = manifest.classes;
  report["trunk"] = manifest.trunk;
  report["variants"] = manifest.variants.size();
  int64_t total = 0;
  for (const auto& f : files) {
    report["files"].push_back(
        {{"file", f.file}, {"bytes", f.bytes}, {"sha256", f.sha256}});
    total += f.bytes;
  }
  if (opt.json) {
    fmt::print("{}\n", report.dump());
    return;
  }
  fmt::print(
      "bundle {} written: model {}, {} variants over {} exit(s), {} classes, "
      "{:.2f} MB; check it with `adascale inspect --bundle {}` or `cd {} && "
      "sha256sum -c SHA256SUMS`\n",
      opt.out, manifest.model.name, manifest.variants.size(),
      manifest.trunk.size(), manifest.classes.size(),
      double(total) / (1024.0 * 1024.0), opt.out, opt.out);
}

}  // namespace

void register_export_command(CLI::App& app) {
  auto options = std::make_shared<ExportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Write a trained elastic run as a deployable bundle (manifest, weights, "
      "tables, SHA256SUMS), or one variant as a TorchScript module");
  add_run_options(cmd, options->run, options->sets, options->json,
                  "trained run directory (a bundle also needs its tables.h5)");
  cmd->add_option("--out", options->out,
                  "bundle directory to create (NAME.adascale), or with "
                  "--torchscript the .pt file")
      ->required();
  cmd->add_option(
      "--torchscript", options->torchscript,
      "write only this variant (e.g. e2:basic.fire) as a TorchScript module "
      "for torch.jit.load. It is the raw net: it takes pixels scaled to 0..1 "
      "and normalised per channel, (x - mean) / std, with the mean and std "
      "of the bundle's manifest.yaml (also in the module's extra file "
      "adascale.json), and returns logits");
  cmd->add_flag("--force", options->force,
                "replace an existing bundle (or .pt file)");
  cmd->callback([options] {
    if (options->torchscript.empty()) {
      export_bundle(*options);
    } else {
      export_torchscript(*options);
    }
  });
}

}  // namespace adascale::app
