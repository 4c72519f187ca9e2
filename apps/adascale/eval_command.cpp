// `adascale eval --run DIR`: top-1 of every trunk exit and every variant on
// the test split, and the confidence early-exit curve of the trunk
// (accuracy against mean MACs). Also written to DIR/eval.json.

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/adascale/command.h"
#include "apps/adascale/run_loading.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "datasets/dataset_factory.h"
#include "search/intrinsic_profiler.h"
#include "training/evaluation.h"
#include "training/variant_evaluation.h"

namespace adascale::app {
namespace {

namespace fs = std::filesystem;

struct EvalOptions {
  std::string run;
  std::vector<std::string> sets;
  bool json = false;
  std::string split = "test";
  std::string variants = "all";
  int64_t limit = 0;
};

nlohmann::json accuracy_json(const training::Accuracy& a) {
  return {{"top1", a.top1},
          {"top5", a.top5},
          {"loss", a.loss},
          {"samples", a.samples}};
}

void run_eval(const EvalOptions& opt) {
  LoadedRun run = load_run(opt.run, opt.sets);
  auto data = datasets::make_pipeline(run.config);
  datasets::DataLoader& loader =
      opt.split == "test" ? *data->test : *data->validation;
  if (loader.num_samples() == 0) {
    throw DataError("eval: the " + opt.split + " split is empty");
  }
  const std::vector<int64_t> shape = {1, run.spec.in_channels,
                                      run.spec.resolution, run.spec.resolution};
  nlohmann::json out;
  out["run"] = run.dir;
  out["model"] = run.spec.name;
  out["split"] = opt.split;
  out["finished"] = run.finished;

  if (!run.spec.elastic()) {
    auto trainee = training::make_model_trainee(run.model, run.spec.name);
    auto acc = training::evaluate_exits(*trainee, {0}, 1, loader, opt.limit);
    auto p = search::profile(run.model, shape);
    nlohmann::json e = accuracy_json(acc[0]);
    e["exit"] = 1;
    e["variant"] = run.spec.name;
    e["macs"] = p.macs;
    out["exits"].push_back(e);
  } else {
    auto& net = run.net;
    const int exits = int(run.trunk.size());
    const auto& space = net->variants();
    // Cost of exit k: the trunk through stage k plus its head; leaving early
    // at k also paid for the heads before it.
    std::vector<double> variant_macs, cumulative;
    double heads_before = 0.0;
    for (int e = 0; e < exits; ++e) {
      const core::Variant v = space.along(run.trunk, e);
      auto full = search::profile(
          *net, [&](torch::Tensor x) { return net->forward(x, v); }, shape);
      auto prefix = search::profile(
          *net,
          [&](torch::Tensor x) {
            return net->forward_prefix(x, v.choices, e + 1);
          },
          shape);
      variant_macs.push_back(double(full.macs));
      cumulative.push_back(double(full.macs) + heads_before);
      heads_before += double(full.macs - prefix.macs);
    }
    auto outputs =
        training::collect_exit_outputs(net, run.trunk, loader, opt.limit);
    for (int e = 0; e < exits; ++e) {
      auto pred = outputs.probabilities[size_t(e)].argmax(1);
      double top1 =
          pred.eq(outputs.labels).to(torch::kDouble).mean().item<double>();
      const core::Variant v = space.along(run.trunk, e);
      out["exits"].push_back({{"exit", e + 1},
                              {"variant", space.to_string(v)},
                              {"top1", top1},
                              {"macs", variant_macs[size_t(e)]},
                              {"samples", outputs.labels.size(0)}});
    }
    std::vector<double> thresholds;
    for (int i = 10; i <= 20; ++i) thresholds.push_back(i * 0.05);
    thresholds.insert(thresholds.end() - 1, {0.97, 0.99});
    for (const auto& p :
         training::early_exit_curve(outputs, cumulative, thresholds)) {
      out["early_exit"].push_back({{"threshold", p.threshold},
                                   {"top1", p.top1},
                                   {"mean_macs", p.mean_macs},
                                   {"exit_share", p.exit_share}});
    }
    if (opt.variants == "all") {
      auto acc = training::evaluate_variants(net, loader, opt.limit);
      // evaluate_variants scores all(); the trained variants are its first.
      const std::vector<core::Variant> trained = space.up_to_exit(exits);
      for (size_t i = 0; i < trained.size(); ++i) {
        nlohmann::json j = accuracy_json(acc[i]);
        j["variant"] = space.to_string(trained[i]);
        out["variants"].push_back(j);
      }
    }
  }
  core::write_file_atomic((fs::path(run.dir) / "eval.json").string(),
                          out.dump(1) + "\n");
  if (opt.json) {
    fmt::print("{}\n", out.dump());
    return;
  }
  fmt::print("run {} ({} split{})\n", run.dir, opt.split,
             run.finished ? "" : ", training not finished");
  fmt::print("{:<5} {:<36} {:>8} {:>10}\n", "exit", "trunk variant", "top-1",
             "MACs");
  for (const auto& e : out["exits"]) {
    fmt::print("{:<5} {:<36} {:>7.2f}% {:>9.2f}M\n", e["exit"].get<int>(),
               e["variant"].get<std::string>(), 100 * e["top1"].get<double>(),
               e["macs"].get<double>() / 1e6);
  }
  if (out.contains("early_exit")) {
    fmt::print("\nearly exit by confidence\n{:>9} {:>8} {:>11}  exit shares\n",
               "threshold", "top-1", "mean MACs");
    for (const auto& p : out["early_exit"]) {
      fmt::print("{:>9.2f} {:>7.2f}% {:>10.2f}M  {:.2f}\n",
                 p["threshold"].get<double>(), 100 * p["top1"].get<double>(),
                 p["mean_macs"].get<double>() / 1e6,
                 fmt::join(p["exit_share"].get<std::vector<double>>(), " "));
    }
  }
  if (out.contains("variants")) {
    auto variants = out["variants"];
    std::sort(variants.begin(), variants.end(),
              [](const auto& a, const auto& b) {
                return a["top1"].template get<double>() >
                       b["top1"].template get<double>();
              });
    fmt::print("\n{} variants evaluated; best ten:\n", variants.size());
    for (size_t i = 0; i < std::min<size_t>(10, variants.size()); ++i) {
      fmt::print("  {:<36} {:>7.2f}%\n",
                 variants[i]["variant"].get<std::string>(),
                 100 * variants[i]["top1"].get<double>());
    }
  }
  fmt::print("\nwritten to {}\n", (fs::path(run.dir) / "eval.json").string());
}

}  // namespace

void register_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Per-exit and per-variant accuracy of a trained run, and its early-exit "
      "curve");
  add_run_options(cmd, options->run, options->sets, options->json);
  cmd->add_option("--split", options->split, "test or validation")
      ->check(CLI::IsMember({"test", "validation"}));
  cmd->add_option("--variants", options->variants,
                  "all: every variant too; trunk: trunk exits only")
      ->check(CLI::IsMember({"all", "trunk"}));
  cmd->add_option("--limit", options->limit, "evaluate at most N images")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([options] { run_eval(*options); });
}

}  // namespace adascale::app
