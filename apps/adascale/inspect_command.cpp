// `adascale inspect --model FILE` (or --config RUN_CONFIG, for its `model:`):
// the intrinsic profile of a model config without training it. For the elastic
// net: every stage's candidates, every exit's trunk variant and the size of the
// variant space; for a zoo model: its totals (and, with --layers, every layer).
// `adascale inspect --bundle DIR`: verifies an exported bundle (format
// version, every checksum, the weights against the spec) and summarises it.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "apps/adascale/command.h"
#include "apps/adascale/run_loading.h"
#include "core/config/node.h"
#include "core/config/schema.h"
#include "core/error.h"
#include "core/model_spec.h"
#include "core/variant.h"
#include "operators/elastic_net.h"
#include "operators/zoo/zoo_factory.h"
#include "runtime/bundle.h"
#include "search/intrinsic_profiler.h"
#include "search/profile_table.h"

namespace adascale::app {
namespace {

// Variants shown by `inspect --bundle`, most accurate first.
constexpr size_t kTopVariants = 5;

struct InspectOptions {
  CommonOptions common;  ///< --config: a run config whose model to profile
  std::string model;
  std::string bundle;
  bool layers = false;
};

// The model to profile: a run config's `model:` (--config), or a model file
// (--model) standing where a run config's `model:` would, so that --set
// keys start at the same root either way (--set model.classes=100).
core::ModelSpec load_model(const InspectOptions& opt) {
  if (opt.common.config) {
    return model_of(load_config(opt.common), *opt.common.config);
  }
  config::Node root;
  root.kind = config::Node::Kind::kMap;
  root.entries.emplace_back("model", config::load_file(opt.model));
  for (const auto& assignment : opt.common.sets) {
    if (assignment.rfind("model.", 0) != 0) {
      throw UsageError(fmt::format(
          "inspect: --set {0}: keys start at the run config's root; a key of "
          "the --model file is --set model.{0}",
          assignment));
    }
    config::apply_override(root, assignment);
  }
  auto spec = config::Reader::read_struct<core::ModelSpec>(*root.find("model"),
                                                           "model");
  core::finalize_model_spec(spec, opt.model + ": model");
  return spec;
}

std::string mega(int64_t n) {
  return fmt::format("{:.3f}M", double(n) / 1e6);
}
std::string mib(int64_t bytes) {
  return fmt::format("{:.2f}MB", double(bytes) / (1024.0 * 1024.0));
}

std::vector<int64_t> input_shape(const core::ModelSpec& spec) {
  return {1, spec.in_channels, spec.resolution, spec.resolution};
}

void inspect_elastic(const core::ModelSpec& spec, const InspectOptions& opt) {
  operators::ElasticNet net(spec);
  const core::VariantSpace& space = net->variants();
  nlohmann::json out;
  out["model"] = spec.name;
  out["architecture"] = spec.architecture;
  out["input"] = input_shape(spec);
  out["classes"] = spec.classes;
  out["stem"] = {{"channels", spec.stem.channels},
                 {"kernel", spec.stem.kernel},
                 {"stride", spec.stem.stride},
                 {"act", spec.stem.act}};
  out["variants"] = space.size();
  for (int e = 0; e < net->num_stages(); ++e) {
    out["variants_per_exit"].push_back(space.size_at_exit(e));
  }
  // Stage inputs along the trunk: candidates are profiled on what they see.
  std::vector<int64_t> shape = input_shape(spec);
  torch::Tensor probe;
  {
    torch::NoGradGuard no_grad;
    net->eval();
    probe = net->forward_stem(torch::zeros(shape));
  }
  core::Variant trunk = space.trunk(net->num_stages() - 1);
  for (int s = 0; s < net->num_stages(); ++s) {
    const core::StageSpec& stage = spec.stages[size_t(s)];
    nlohmann::json js;
    js["stage"] = s + 1;
    js["input"] = probe.sizes().vec();
    js["out_channels"] = stage.out_channels;
    js["backbone"] = stage.backbone;
    for (size_t c = 0; c < stage.candidates.size(); ++c) {
      auto& module = *net->candidates[size_t(s)][c];
      auto p = search::profile(
          module,
          [&](torch::Tensor x) { return net->forward_stage(x, s, int(c)); },
          probe.sizes().vec());
      nlohmann::json jc = search::totals_json(p);
      jc["name"] = stage.candidates[c].name;
      jc["type"] = stage.candidates[c].op.type;
      jc["depth"] = stage.candidates[c].depth;
      js["candidates"].push_back(jc);
    }
    {
      torch::NoGradGuard no_grad;
      probe = net->forward_stage(probe, s, trunk.choices[size_t(s)]);
    }
    auto head = search::profile(
        *net->exits[size_t(s)],
        [&](torch::Tensor x) { return net->forward_exit(x, s); },
        probe.sizes().vec());
    js["exit_head"] = search::totals_json(head);
    js["exit_head"]["channels"] = core::exit_channels(spec, size_t(s));
    out["stages"].push_back(js);
  }
  for (int e = 0; e < net->num_stages(); ++e) {
    core::Variant v = space.trunk(e);
    auto p = search::profile(
        *net, [&](torch::Tensor x) { return net->forward(x, v); },
        input_shape(spec));
    nlohmann::json je = search::totals_json(p);
    je["exit"] = e + 1;
    je["variant"] = space.to_string(v);
    out["exits"].push_back(je);
  }
  if (opt.common.json) {
    fmt::print("{}\n", out.dump());
    return;
  }
  fmt::print("model {} (elastic net), input {}, {} classes\n", spec.name,
             fmt::join(input_shape(spec), "x"), spec.classes);
  fmt::print(
      "variant space: {} variants (per exit: {})\n\n", space.size(),
      fmt::join(out["variants_per_exit"].get<std::vector<size_t>>(), ", "));
  fmt::print("{:<6} {:<14} {:<12} {:>6} {:>10} {:>10} {:>10}\n", "stage",
             "candidate", "type", "depth", "params", "MACs", "fp32");
  for (const auto& js : out["stages"]) {
    for (const auto& jc : js["candidates"]) {
      std::string name = jc["name"].get<std::string>();
      if (name == js["backbone"].get<std::string>()) name += " *";
      fmt::print("{:<6} {:<14} {:<12} {:>6} {:>10} {:>10} {:>10}\n",
                 js["stage"].get<int>(), name, jc["type"].get<std::string>(),
                 jc["depth"].get<int>(), mega(jc["params"]), mega(jc["macs"]),
                 mib(jc["storage_fp32_bytes"]));
    }
    const auto& h = js["exit_head"];
    fmt::print("{:<6} {:<14} {:<12} {:>6} {:>10} {:>10} {:>10}\n",
               js["stage"].get<int>(), "exit head", "exit", 1,
               mega(h["params"]), mega(h["macs"]),
               mib(h["storage_fp32_bytes"]));
  }
  fmt::print("(* = backbone: the trunk later stages are trained on)\n\n");
  fmt::print("{:<5} {:<34} {:>9} {:>9} {:>9} {:>9} {:>10}\n", "exit",
             "trunk variant", "params", "MACs", "fp32", "int8", "mem access");
  for (const auto& je : out["exits"]) {
    fmt::print("{:<5} {:<34} {:>9} {:>9} {:>9} {:>9} {:>10}\n",
               je["exit"].get<int>(), je["variant"].get<std::string>(),
               mega(je["params"]), mega(je["macs"]),
               mib(je["storage_fp32_bytes"]), mib(je["storage_int8_bytes"]),
               mib(je["memory_access_bytes"]));
  }
}

void inspect_zoo(const core::ModelSpec& spec, const InspectOptions& opt) {
  auto model = operators::zoo::make_zoo_model(spec);
  auto p = search::profile(
      *model.ptr(),
      [&](torch::Tensor x) { return model.forward<torch::Tensor>(x); },
      input_shape(spec));
  if (opt.common.json) {
    nlohmann::json out = search::totals_json(p);
    out["model"] = spec.name;
    out["architecture"] = spec.architecture;
    out["input"] = input_shape(spec);
    out["classes"] = spec.classes;
    out["variants"] = 1;
    if (opt.layers) out["profile"] = search::to_json(p);
    fmt::print("{}\n", out.dump());
    return;
  }
  fmt::print("model {} ({}), input {}, {} classes, 1 variant\n", spec.name,
             spec.architecture, fmt::join(input_shape(spec), "x"),
             spec.classes);
  if (opt.layers) fmt::print("{}\n", search::format_profile(p, true));
  fmt::print(
      "params {}  MACs {}  FLOPs {}  storage fp32 {}  int8 {}  activations "
      "{}  memory accesses {}\n",
      mega(p.params), mega(p.macs), mega(p.flops), mib(p.storage_fp32_bytes),
      mib(p.storage_int8_bytes), mib(p.activation_bytes),
      mib(p.memory_access_bytes));
}

void inspect_bundle(const InspectOptions& opt) {
  runtime::LoadedBundle b = runtime::load_bundle(opt.bundle);
  const core::BundleManifest& m = b.manifest;
  std::vector<core::BundleVariant> ranked = m.variants;
  // Most accurate first; variants never scored (NaN) last.
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& c) {
                     if (std::isnan(c.validation_top1))
                       return !std::isnan(a.validation_top1);
                     return a.validation_top1 > c.validation_top1;
                   });
  ranked.resize(std::min(ranked.size(), kTopVariants));
  std::string trunk;
  for (const auto& name : m.trunk) trunk += (trunk.empty() ? "" : ".") + name;

  nlohmann::json out;
  out["bundle"] = opt.bundle;
  out["verified"] = true;
  out["format_version"] = m.format_version;
  out["created_by"] = m.created_by;
  out["source"] = m.source;
  out["model"] = b.spec.name;
  out["input"] = input_shape(b.spec);
  out["classes"] = b.class_names;
  out["normalization"] = {{"mean", b.normalization.mean},
                          {"std", b.normalization.std}};
  out["trunk"] = m.trunk;
  out["stages"] = b.net->num_stages();
  out["variants"] = m.variants.size();
  out["top_variants"] = nlohmann::json::array();
  for (const auto& v : ranked) {
    nlohmann::json jv{{"id", v.id}, {"exit", v.exit}};
    // nlohmann writes NaN as null: "not scored".
    jv["validation_top1"] = v.validation_top1;
    out["top_variants"].push_back(jv);
  }
  for (const auto& f : b.files) {
    out["files"].push_back({{"file", f.file},
                            {"bytes", f.bytes},
                            {"sha256", f.sha256},
                            {"ok", true}});
  }
  if (opt.common.json) {
    fmt::print("{}\n", out.dump());
    return;
  }
  fmt::print("bundle {}: verified (format version {}, {} files, SHA-256 OK)\n",
             opt.bundle, m.format_version, b.files.size());
  fmt::print("model {} (elastic net), input {}, exported by {} from {}\n",
             b.spec.name, fmt::join(input_shape(b.spec), "x"), m.created_by,
             m.source);
  const size_t shown = std::min<size_t>(b.class_names.size(), 10);
  fmt::print("classes: {}: {}{}\n", b.class_names.size(),
             fmt::join(b.class_names.begin(),
                       b.class_names.begin() + long(shown), ", "),
             shown < b.class_names.size() ? ", ..." : "");
  fmt::print("normalisation (0..1 pixels): mean {:.4f} std {:.4f}\n",
             fmt::join(b.normalization.mean, " "),
             fmt::join(b.normalization.std, " "));
  fmt::print("trunk: {} ({} of {} stages trained); {} variants\n", trunk,
             m.trunk.size(), b.net->num_stages(), m.variants.size());
  fmt::print("top variants by validation top-1:\n");
  for (const auto& v : ranked) {
    fmt::print("  {:<34} exit {}  {}\n", v.id, v.exit,
               std::isnan(v.validation_top1)
                   ? std::string("not scored")
                   : fmt::format("{:.1f}%", 100 * v.validation_top1));
  }
  fmt::print("files:\n");
  for (const auto& f : b.files) {
    fmt::print("  {:<14} {:>12} B  sha256 {}  OK\n", f.file, f.bytes, f.sha256);
  }
}

}  // namespace

void register_inspect_command(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand(
      "inspect",
      "Profile a model config: params, MACs, storage per stage, per exit "
      "and the variant space; or verify and summarise an exported bundle");
  add_common_options(cmd, options->common, true);
  auto* model = cmd->add_option("--model", options->model,
                                "model config (configs/models); --set "
                                "model.KEY=VALUE overrides its keys")
                    ->check(CLI::ExistingFile);
  cmd->get_option("--config")->excludes(model);
  cmd->add_option("--bundle", options->bundle,
                  "an exported bundle directory (adascale export): verify "
                  "its version and checksums and summarise it")
      ->excludes(model)
      ->excludes("--config");
  cmd->add_flag("--layers", options->layers,
                "zoo models: every layer (elastic: use --json)");
  cmd->callback([options] {
    if (!options->bundle.empty()) {
      if (!options->common.sets.empty() || options->layers) {
        throw UsageError(
            "inspect: --set and --layers apply to --model and --config only");
      }
      inspect_bundle(*options);
      return;
    }
    if (options->model.empty() && !options->common.config) {
      throw UsageError(
          "inspect: give --model FILE, --config RUN_CONFIG or --bundle DIR");
    }
    core::ModelSpec spec = load_model(*options);
    if (spec.elastic()) {
      inspect_elastic(spec, *options);
    } else {
      inspect_zoo(spec, *options);
    }
  });
}

}  // namespace adascale::app
