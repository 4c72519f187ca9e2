// Training throughput, three ways (issue 4's benchmarks):
//  1. one epoch of the C++ trainer against the usual Python training loop
//     (torchvision model + DataLoader + the same augmentation) on the same
//     CIFAR-10 images, data loading included, for MobileNetV3-Small and
//     ResNet18;
//  2. stage-4 epoch time of the default elastic net in freeze against
//     finetune mode;
//  3. one-pass training of four candidates of a stage on a shared prefix
//     against training them one after another.
//
//   build/bin/bench_training [--images 5120] [--steps 20] [--json]

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/config/schema.h"
#include "core/error.h"
#include "core/execution.h"
#include "core/logging.h"
#include "core/model_spec.h"
#include "core/run_config.h"
#include "core/timing.h"
#include "datasets/dataset_factory.h"
#include "experiments/benchmarks/run_command.h"
#include "operators/elastic_net.h"
#include "operators/zoo/zoo_factory.h"
#include "training/multi_stage_trainer.h"
#include "training/trainee.h"
#include "training/training_optimizer.h"

namespace {

using namespace adascale;
using bench::run_command;

core::TrainConfig recipe(const std::string& mode) {
  core::TrainConfig t;
  if (!config::parse_spelling(mode, t.mode)) {
    throw InternalError("train_throughput: no train.mode '" + mode + "'");
  }
  t.epochs = 1;
  t.progress = "off";
  t.optimizer.lr = 0.05;
  t.optimizer.nesterov = true;
  t.schedule.type = core::ScheduleType::kConstant;
  return t;
}

/// Images per second of `steps` training steps of `fn` over `loader`
/// (data loading included), after two warm-up steps.
template <typename Step>
double time_steps(datasets::DataLoader& loader, int steps, Step step) {
  loader.start_epoch(0);
  int64_t images = 0;
  core::Stopwatch clock;
  for (int i = 0; i < steps + 2; ++i) {
    auto batch = loader.next();
    if (!batch) {
      loader.start_epoch(i + 1);
      batch = loader.next();
    }
    if (i == 2) {
      clock.restart();
      images = 0;
    }
    step(*batch);
    images += batch->labels.size(0);
  }
  return double(images) / clock.seconds();
}

torch::Tensor sum_of_losses(const std::vector<torch::Tensor>& logits,
                            const torch::Tensor& labels) {
  torch::Tensor loss;
  for (const auto& l : logits) {
    auto h = torch::nn::functional::cross_entropy(l, labels);
    loss = loss.defined() ? loss + h : h;
  }
  return loss;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Training throughput: C++ trainer vs Python, freeze vs "
      "finetune, one-pass vs sequential candidates"};
  int threads = 2, steps = 20;
  int64_t images = 5120;
  bool json = false, skip_python = false;
  std::vector<std::string> models = {"mobilenet_v3_small", "resnet18"};
  std::vector<std::string> sections = {"epoch", "freeze", "onepass"};
  std::vector<std::string> overrides;
  app.add_option("--threads", threads, "intra-op threads (both sides)");
  app.add_option("--images", images, "training images in the timed epoch");
  app.add_option("--steps", steps, "timed steps (freeze, onepass)");
  app.add_option("--models", models, "zoo models (epoch)")->delimiter(',');
  app.add_option("--sections", sections, "epoch,freeze,onepass")
      ->delimiter(',');
  app.add_flag("--skip-python", skip_python, "C++ side only");
  app.add_option("--set", overrides,
                 "config override of the C++ side (loader.prefetch=0, ...)");
  app.add_flag("--json", json, "one JSON object on stdout");
  CLI11_PARSE(app, argc, argv);
  auto wants = [&](const std::string& s) {
    return std::find(sections.begin(), sections.end(), s) != sections.end();
  };
  try {
    log::set_level(log::parse_level("warn"));
    std::vector<std::string> settings = {
        "dataset.validation_fraction=0",
        "dataset.train_limit=" + std::to_string(images),
        "threads=" + std::to_string(threads)};
    settings.insert(settings.end(), overrides.begin(), overrides.end());
    core::RunConfig config =
        core::load_run_config("configs/datasets/cifar10.yaml", settings);
    core::setup_execution(config.threads, "cpu", 0);
    if (!std::filesystem::exists(config.dataset.root)) {
      throw IoError(config.dataset.root +
                    ": CIFAR-10 missing; run scripts/get_data.sh first");
    }
    auto data = datasets::make_pipeline(config);
    nlohmann::json out;
    out["threads"] = threads;
    out["images"] = data->train->num_samples();

    if (wants("epoch")) {
      for (const auto& name : models) {
        core::ModelSpec spec;
        spec.name = name;
        spec.architecture = name;
        spec.dropout = 0.0;
        core::finalize_model_spec(spec, "bench");
        auto trainee = training::make_model_trainee(
            operators::zoo::make_zoo_model(spec), name);
        training::TrainerOptions options;
        options.train = recipe("finetune");
        options.evaluate = false;
        options.channels_last = config.loader.channels_last;
        training::MultiStageTrainer trainer(*trainee, *data, options);
        auto report = trainer.run(false);
        out["epoch"][name]["cpp_images_per_second"] =
            report.stages[0].images_per_second;
      }
      if (!skip_python) {
        const std::string script = fmt::format(
            "/usr/bin/python3 experiments/benchmarks/train_throughput.py "
            "--threads {} --images {} --models {} --root {}",
            threads, images, fmt::join(models, ","), config.dataset.root);
        auto py = nlohmann::json::parse(run_command(script));
        // The same script with the two settings the C++ side applies by
        // default (glibc's heap reuse, core/heap_reuse.h, and NHWC
        // batches): how much of the gap is those settings.
        auto py_reuse = nlohmann::json::parse(
            run_command("GLIBC_TUNABLES=glibc.malloc.mmap_max=0:"
                        "glibc.malloc.trim_threshold=1073741824 " +
                        script + " --channels-last"));
        for (const auto& name : models) {
          double p = py["images_per_second"][name]["best"];
          auto& o = out["epoch"][name];
          o["python_images_per_second"] = p;
          o["python_by_workers"] = py["images_per_second"][name]["by_workers"];
          o["cpp_over_python"] = o["cpp_images_per_second"].get<double>() / p;
          double r = py_reuse["images_per_second"][name]["best"];
          o["python_tuned_images_per_second"] = r;
          o["cpp_over_python_tuned"] =
              o["cpp_images_per_second"].get<double>() / r;
        }
      }
    }

    core::ModelSpec spec =
        core::load_model_spec("configs/models/adascale_cifar.yaml");
    const int last = int(spec.stages.size()) - 1;
    if (wants("freeze")) {
      for (const std::string mode : {"freeze", "finetune"}) {
        operators::ElasticNet net(spec);
        auto trainee = training::make_elastic_trainee(net, recipe(mode));
        std::vector<int> trunk(size_t(last), 0);
        training::TrainingOptimizer opt(recipe(mode).optimizer,
                                        trainee->parameters(last, trunk));
        trainee->set_mode(last, trunk, true);
        double rate = time_steps(*data->train, steps, [&](auto& b) {
          auto loss = sum_of_losses(
              trainee->forward_heads(last, trunk, b.images, true), b.labels);
          opt.zero_grad();
          loss.backward();
          opt.step();
        });
        out["stage4"][mode]["images_per_second"] = rate;
        out["stage4"][mode]["epoch_seconds_45k"] = 45000.0 / rate;
      }
      out["stage4"]["finetune_over_freeze_time"] =
          out["stage4"]["freeze"]["images_per_second"].get<double>() /
          out["stage4"]["finetune"]["images_per_second"].get<double>();
    }

    if (wants("onepass")) {
      for (int stage = 0; stage <= last; ++stage) {
        operators::ElasticNet net(spec);
        net->train();
        std::vector<int> trunk(size_t(stage), 0);
        std::vector<int> four = {0, 1, 2, 3};
        std::vector<torch::Tensor> params;
        for (int c : four) {
          for (auto& p :
               net->candidates[size_t(stage)][size_t(c)]->parameters())
            params.push_back(p);
        }
        for (auto& p : net->exits[size_t(stage)]->parameters())
          params.push_back(p);
        training::TrainingOptimizer opt(recipe("freeze").optimizer,
                                        {{params, 1.0}});
        auto prefix_of = [&](const torch::Tensor& x) {
          torch::NoGradGuard no_grad;
          return net->forward_prefix(x, trunk, stage);
        };
        double one_pass = time_steps(*data->train, steps, [&](auto& b) {
          auto logits =
              net->forward_candidates(prefix_of(b.images), stage, four);
          auto loss = sum_of_losses(logits, b.labels);
          opt.zero_grad();
          loss.backward();
          opt.step();
        });
        double sequential = time_steps(*data->train, steps, [&](auto& b) {
          for (int c : four) {
            auto logits =
                net->forward_candidates(prefix_of(b.images), stage, {c});
            auto loss = sum_of_losses(logits, b.labels);
            opt.zero_grad();
            loss.backward();
            opt.step();
          }
        });
        std::string key = fmt::format("stage{}", stage + 1);
        out["onepass"][key]["one_pass_images_per_second"] = one_pass;
        out["onepass"][key]["sequential_images_per_second"] = sequential;
        out["onepass"][key]["speedup"] = one_pass / sequential;
      }
    }

    if (json) {
      fmt::print("{}\n", out.dump());
      return 0;
    }
    fmt::print("training throughput, {} threads, CIFAR-10, batch 128\n",
               threads);
    if (out.contains("epoch")) {
      fmt::print(
          "\none epoch over {} images, data loading included (ratio = "
          "C++ / Python; Py tuned = the script with the C++ side's heap reuse "
          "and NHWC batches)\n{:<20} {:>10} {:>10} {:>7} {:>13} "
          "{:>7}\n",
          out["images"].get<int64_t>(), "model", "C++ img/s", "Py img/s",
          "ratio", "Py tuned", "ratio");
      auto cell = [](const nlohmann::json& r, const char* key, const char* f) {
        return r.contains(key)
                   ? fmt::format(fmt::runtime(f), r[key].get<double>())
                   : std::string("-");
      };
      for (auto& [name, r] : out["epoch"].items()) {
        fmt::print("{:<20} {:>10.1f} {:>10} {:>7} {:>13} {:>7}\n", name,
                   r["cpp_images_per_second"].get<double>(),
                   cell(r, "python_images_per_second", "{:.1f}"),
                   cell(r, "cpp_over_python", "{:.2f}"),
                   cell(r, "python_tuned_images_per_second", "{:.1f}"),
                   cell(r, "cpp_over_python_tuned", "{:.2f}"));
      }
    }
    if (out.contains("stage4")) {
      auto& s = out["stage4"];
      fmt::print(
          "\nstage 4 of the default elastic net, all candidates\n"
          "freeze   {:8.1f} img/s  (45k-image epoch {:6.1f} s)\n"
          "finetune {:8.1f} img/s  (45k-image epoch {:6.1f} s)\n"
          "finetune / freeze epoch time: {:.2f}x\n",
          s["freeze"]["images_per_second"].get<double>(),
          s["freeze"]["epoch_seconds_45k"].get<double>(),
          s["finetune"]["images_per_second"].get<double>(),
          s["finetune"]["epoch_seconds_45k"].get<double>(),
          s["finetune_over_freeze_time"].get<double>());
    }
    if (out.contains("onepass")) {
      fmt::print(
          "\nfour candidates of a stage (freeze mode): one pass on a "
          "shared prefix vs one after another\n{:<8} {:>12} {:>12} "
          "{:>8}\n",
          "stage", "one-pass", "sequential", "speedup");
      for (auto& [stage, r] : out["onepass"].items()) {
        fmt::print("{:<8} {:>12.1f} {:>12.1f} {:>7.2f}x\n", stage,
                   r["one_pass_images_per_second"].get<double>(),
                   r["sequential_images_per_second"].get<double>(),
                   r["speedup"].get<double>());
      }
    }
    return 0;
  } catch (const Error& e) {
    fmt::print(stderr, "bench_training: error: {}\n", e.what());
    return 1;
  }
}
