// Data-parallel training throughput: on one machine,
// 1 process × T threads against T ranks × 1 thread (torchrun, Gloo over
// loopback) at the same global batch, for the elastic net's stage 1 and
// stage 4 (all candidates, freeze mode) and ResNet18; all-reduce time and
// bytes per step; Python's DistributedDataParallel on ResNet18 with the
// same ranks, threads and batch (distributed_scaling.py) for the ratio;
// then a projection to 8 and 64 workers on 10 and 100 Gbit/s networks from
// the measured compute and communication per step.
//
//   build/bin/bench_distributed [--ranks 2] [--batch 64] [--steps 5] [--json]
//
// The driver starts itself as workers: `--role worker` runs the timed
// steps in this process (alone, or as one rank when launched by torchrun)
// and prints rank 0's figures as one JSON line.

#include <fmt/format.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/error.h"
#include "core/execution.h"
#include "core/logging.h"
#include "core/model_spec.h"
#include "core/timing.h"
#include "experiments/benchmarks/run_command.h"
#include "operators/elastic_net.h"
#include "operators/zoo/zoo_factory.h"
#include "training/distributed.h"
#include "training/trainee.h"
#include "training/training_optimizer.h"

namespace {

using namespace adascale;

struct WorkerOptions {
  std::string workload;  ///< elastic_stage1 | elastic_stage4 | resnet18
  int batch = 32;        ///< per rank
  int steps = 5;
  int warmup = 2;
  int threads = 1;
};

/// Timed training steps of one workload in this process (one rank of a
/// torchrun launch when RANK is set). Rank 0's figures, as JSON.
nlohmann::json run_worker(const WorkerOptions& o) {
  log::set_level(log::Level::kWarn);
  core::setup_execution(std::to_string(o.threads), "cpu", 0);
  std::unique_ptr<training::Communicator> comm;
  if (auto launch = training::launch_from_environment();
      launch && launch->world_size > 1) {
    core::DistributedConfig dc;
    dc.timeout_seconds = 600;
    comm = training::Communicator::connect(*launch, dc);
  }
  core::TrainConfig recipe;
  recipe.mode = core::TrainMode::kFreeze;
  recipe.optimizer.lr = 0.01;

  std::unique_ptr<training::Trainee> trainee;
  int stage = 0;
  std::vector<int> trunk;
  int classes = 10;
  if (o.workload == "resnet18") {
    core::ModelSpec spec =
        core::load_model_spec("configs/models/resnet18.yaml");
    classes = spec.classes;
    trainee = training::make_model_trainee(operators::zoo::make_zoo_model(spec),
                                           spec.name);
  } else if (o.workload == "elastic_stage1" || o.workload == "elastic_stage4") {
    core::ModelSpec spec =
        core::load_model_spec("configs/models/adascale_cifar.yaml");
    classes = spec.classes;
    stage = o.workload == "elastic_stage1" ? 0 : int(spec.stages.size()) - 1;
    trainee =
        training::make_elastic_trainee(operators::ElasticNet(spec), recipe);
    // Later stages train on the backbone trunk.
    for (int s = 0; s < stage; ++s) trunk.push_back(trainee->backbone(s));
  } else {
    throw ConfigError("--workload: unknown '" + o.workload + "'");
  }
  if (comm) comm->broadcast_module(trainee->module(), "initial weights");
  training::TrainingOptimizer optimizer(recipe.optimizer,
                                        trainee->parameters(stage, trunk));
  std::vector<torch::Tensor> params;
  for (auto& g : optimizer.torch_optimizer().param_groups()) {
    for (auto& p : g.params()) params.push_back(p);
  }
  torch::manual_seed(1 + (comm ? comm->rank() : 0));
  const auto images = torch::randn({o.batch, 3, 32, 32});
  const auto labels = torch::randint(classes, {o.batch}, torch::kInt64);
  trainee->set_mode(stage, trunk, true);
  core::Stopwatch clock;
  for (int i = 0; i < o.warmup + o.steps; ++i) {
    if (i == o.warmup) {
      if (comm) comm->reset_stats();
      clock.restart();
    }
    torch::Tensor loss;
    for (const auto& l : trainee->forward_heads(stage, trunk, images, true)) {
      auto h = torch::nn::functional::cross_entropy(l, labels);
      loss = loss.defined() ? loss + h : h;
    }
    optimizer.zero_grad();
    loss.backward();
    if (comm) comm->average_gradients(params);
    optimizer.step();
  }
  // Every rank has stopped the clock before rank 0 reports.
  const double seconds = clock.seconds();
  const int world = comm ? comm->world_size() : 1;
  nlohmann::json out;
  out["workload"] = o.workload;
  out["ranks"] = world;
  out["threads"] = o.threads;
  out["batch_per_rank"] = o.batch;
  out["images_per_second"] = double(o.steps) * o.batch * world / seconds;
  out["step_seconds"] = seconds / o.steps;
  int64_t numel = 0;
  for (const auto& p : params) numel += p.numel();
  out["trained_parameters"] = numel;
  if (comm) {
    const auto& s = comm->stats();
    out["allreduce_seconds_per_step"] = s.gradient_seconds / o.steps;
    out["allreduce_bytes_per_step"] = double(s.gradient_bytes) / o.steps;
    // Synchronised BatchNorm is off here: the other collectives are none.
    out["compute_seconds_per_step"] = (seconds - s.gradient_seconds) / o.steps;
  } else {
    out["compute_seconds_per_step"] = seconds / o.steps;
  }
  if (comm && comm->rank() != 0) return nlohmann::json();
  return out;
}

/// The last line of a command's stdout that parses as JSON.
nlohmann::json json_of(const std::string& output, const std::string& cmd) {
  std::string line, last;
  std::istringstream in(output);
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '{') last = line;
  }
  if (last.empty()) throw IoError("no JSON from: " + cmd);
  return nlohmann::json::parse(last);
}

/// Ring all-reduce (Gloo's and NCCL's large-message algorithm) over W
/// workers: each sends and receives 2(W−1)/W of the bytes, in 2(W−1)
/// latency-bound steps.
double ring_seconds(double bytes, int workers, double gbit, double latency) {
  if (workers < 2) return 0.0;
  const double w = workers;
  return 2.0 * (w - 1) / w * bytes / (gbit * 1e9 / 8.0) +
         2.0 * (w - 1) * latency;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Data-parallel training throughput and its projection"};
  std::string role = "driver";
  WorkerOptions worker;
  int ranks = 2, batch = 64, steps = 5, port = 29517;
  bool json = false, skip_python = false;
  double latency_us = 25.0;
  std::vector<std::string> workloads = {"elastic_stage1", "elastic_stage4",
                                        "resnet18"};
  app.add_option("--role", role, "driver | worker");
  app.add_option("--workload", worker.workload, "worker: the workload");
  app.add_option("--threads", worker.threads, "worker: intra-op threads");
  app.add_option("--ranks", ranks, "ranks (and threads of the 1-process run)");
  app.add_option("--batch", batch, "global batch per step");
  app.add_option("--steps", steps, "timed steps (after 2 warm-up steps)");
  app.add_option("--port", port, "torchrun master port");
  app.add_option("--workloads", workloads, "driver: which workloads")
      ->delimiter(',');
  app.add_option("--latency-us", latency_us,
                 "projection: per-message network latency");
  app.add_flag("--skip-python", skip_python, "no Python DDP baseline");
  app.add_flag("--json", json, "one JSON object on stdout");
  CLI11_PARSE(app, argc, argv);
  try {
    if (role == "worker") {
      worker.batch = batch;
      worker.steps = steps;
      auto out = run_worker(worker);
      if (!out.is_null()) fmt::print("{}\n", out.dump());
      return 0;
    }
    if (batch % ranks != 0) {
      throw ConfigError("--batch: must be divisible by --ranks");
    }
    const std::string self = "/proc/self/exe";
    char path[4096] = {};
    const ssize_t n = readlink(self.c_str(), path, sizeof(path) - 1);
    const std::string binary = n > 0 ? std::string(path, size_t(n)) : argv[0];
    nlohmann::json out;
    out["ranks"] = ranks;
    out["global_batch"] = batch;
    out["steps"] = steps;
    for (const auto& w : workloads) {
      const std::string alone = fmt::format(
          "env -u RANK -u WORLD_SIZE {} --role worker --workload {} "
          "--threads {} --batch {} --steps {}",
          binary, w, ranks, batch, steps);
      // OMP_NUM_THREADS=1 as torchrun sets for several local ranks;
      // --redirects/--tee 2: Debian's torchrun cannot parse their default
      // under Python 3.11 (docs/distributed.md).
      const std::string ddp = fmt::format(
          "OMP_NUM_THREADS=1 torchrun --redirects 2 --tee 2 --no_python "
          "--nproc_per_node={} "
          "--master_port={} {} --role worker --workload {} --threads 1 "
          "--batch {} --steps {}",
          ranks, port, binary, w, batch / ranks, steps);
      out["cpp"][w]["one_process"] = json_of(bench::run_command(alone), alone);
      out["cpp"][w]["ddp"] = json_of(bench::run_command(ddp), ddp);
      if (w == "resnet18" && !skip_python) {
        const std::string py = "experiments/benchmarks/distributed_scaling.py";
        const std::string py_alone = fmt::format(
            "/usr/bin/python3 {} --threads {} --batch {} --steps {}", py, ranks,
            batch, steps);
        const std::string py_ddp = fmt::format(
            "OMP_NUM_THREADS=1 torchrun --redirects 2 --tee 2 "
            "--nproc_per_node={} --master_port={} "
            "{} --threads 1 --batch {} --steps {}",
            ranks, port, py, batch / ranks, steps);
        out["python"][w]["one_process"] =
            json_of(bench::run_command(py_alone), py_alone);
        out["python"][w]["ddp"] = json_of(bench::run_command(py_ddp), py_ddp);
      }
    }
    // The projection: weak scaling at the measured per-rank batch, compute
    // per step as measured with one thread per rank, all-reduce modelled as
    // a ring on the link, not overlapped with backward (this trainer
    // reduces after backward; DDP's overlap bound is max instead of sum).
    for (auto& [w, r] : out["cpp"].items()) {
      const auto& d = r["ddp"];
      const double compute = d["compute_seconds_per_step"].get<double>();
      const double bytes = d["allreduce_bytes_per_step"].get<double>();
      const int per_rank = d["batch_per_rank"].get<int>();
      for (int workers : {8, 64}) {
        for (double gbit : {10.0, 100.0}) {
          const double comm =
              ring_seconds(bytes, workers, gbit, latency_us * 1e-6);
          nlohmann::json p;
          p["workers"] = workers;
          p["gbit"] = gbit;
          p["allreduce_seconds"] = comm;
          p["images_per_second"] = workers * per_rank / (compute + comm);
          p["efficiency"] = compute / (compute + comm);
          p["overlapped_efficiency"] = compute / std::max(compute, comm);
          out["projection"][w].push_back(p);
        }
      }
    }
    if (json) {
      fmt::print("{}\n", out.dump());
      return 0;
    }
    fmt::print(
        "data-parallel training, global batch {}, {} timed steps: 1 process "
        "x {} threads vs {} ranks x 1 thread (Gloo, loopback)\n\n",
        batch, steps, ranks, ranks);
    fmt::print("{:<16} {:>10} {:>10} {:>7} {:>11} {:>11} {:>10} {:>10}\n",
               "workload", "1p img/s", "DDP img/s", "ratio", "compute ms",
               "allred ms", "MB/step", "Py DDP");
    for (auto& [w, r] : out["cpp"].items()) {
      const auto& a = r["one_process"];
      const auto& d = r["ddp"];
      std::string py = "-";
      if (out.contains("python") && out["python"].contains(w)) {
        py = fmt::format(
            "{:.1f}",
            out["python"][w]["ddp"]["images_per_second"].get<double>());
      }
      fmt::print(
          "{:<16} {:>10.1f} {:>10.1f} {:>7.2f} {:>11.1f} {:>11.1f} {:>10.2f} "
          "{:>10}\n",
          w, a["images_per_second"].get<double>(),
          d["images_per_second"].get<double>(),
          d["images_per_second"].get<double>() /
              a["images_per_second"].get<double>(),
          1e3 * d["compute_seconds_per_step"].get<double>(),
          1e3 * d["allreduce_seconds_per_step"].get<double>(),
          d["allreduce_bytes_per_step"].get<double>() / 1e6, py);
    }
    if (out.contains("python")) {
      for (auto& [w, r] : out["python"].items()) {
        const double cpp = out["cpp"][w]["ddp"]["images_per_second"];
        const double py = r["ddp"]["images_per_second"];
        fmt::print(
            "\n{}: Python 1 process {:.1f} img/s, Python DDP {:.1f} img/s; "
            "C++ DDP / Python DDP = {:.2f}\n",
            w, r["one_process"]["images_per_second"].get<double>(), py,
            cpp / py);
      }
    }
    fmt::print(
        "\nprojection (weak scaling, per-rank batch {}, ring all-reduce, "
        "{} us per message, no overlap; overlapped bound in brackets)\n",
        batch / ranks, latency_us);
    fmt::print("{:<16} {:>8} {:>7} {:>12} {:>12} {:>18}\n", "workload",
               "workers", "Gbit/s", "allred ms", "img/s", "efficiency");
    for (auto& [w, rows] : out["projection"].items()) {
      for (const auto& p : rows) {
        fmt::print(
            "{:<16} {:>8} {:>7.0f} {:>12.2f} {:>12.0f} {:>9.0f}% "
            "({:.0f}%)\n",
            w, p["workers"].get<int>(), p["gbit"].get<double>(),
            1e3 * p["allreduce_seconds"].get<double>(),
            p["images_per_second"].get<double>(),
            100 * p["efficiency"].get<double>(),
            100 * p["overlapped_efficiency"].get<double>());
      }
    }
    return 0;
  } catch (const Error& e) {
    fmt::print(stderr, "bench_distributed: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_distributed: error: {}\n", e.what());
    return 1;
  }
}
