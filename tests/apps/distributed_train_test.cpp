// Data-parallel `adascale train` as torchrun runs it: two processes of the
// real binary on loopback, with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
// in their environment (what torchrun sets). Tiny generated data; every
// wait is bounded, and no test asserts a duration.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/model_spec.h"
#include "core/run_config.h"
#include "operators/elastic_net.h"
#include "operators/zoo/zoo_factory.h"
#include "tests/test_util.h"
#include "training/checkpoint.h"

extern char** environ;

namespace adascale {
namespace {

namespace fs = std::filesystem;
using Seconds = std::chrono::duration<double>;

// Generous bounds so that a loaded machine passes; they only stop a test
// that would otherwise hang.
constexpr double kRunLimitSeconds = 600;

/// A TCP port nobody listens on right now.
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string last_line(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1);
}

/// One `adascale` process with its stdout and stderr in files.
struct Process {
  pid_t pid = -1;
  std::string out, err;  ///< file paths
  int status = -1;       ///< exit status once reaped; 128 + n for signal n

  std::string stderr_text() const { return read_text(err); }
  std::string stdout_text() const { return read_text(out); }

  /// Waits up to `limit` seconds; false (process still running) after it.
  bool wait(double limit = kRunLimitSeconds) {
    if (pid < 0) return true;
    const auto start = std::chrono::steady_clock::now();
    while (Seconds(std::chrono::steady_clock::now() - start).count() < limit) {
      int raw = 0;
      if (waitpid(pid, &raw, WNOHANG) == pid) {
        status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
        pid = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  void kill_now() {
    if (pid < 0) return;
    ::kill(pid, SIGKILL);
    wait(30);
  }
  /// Polls stderr until it contains `needle`; false if the process ended
  /// or `limit` seconds passed first.
  bool wait_for_log(const std::string& needle,
                    double limit = kRunLimitSeconds) {
    const auto start = std::chrono::steady_clock::now();
    while (Seconds(std::chrono::steady_clock::now() - start).count() < limit) {
      if (stderr_text().find(needle) != std::string::npos) return true;
      int raw = 0;
      if (waitpid(pid, &raw, WNOHANG) == pid) {
        status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
        pid = -1;
        return stderr_text().find(needle) != std::string::npos;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
};

/// Starts `adascale args...` with `env` added to (or, for an empty value,
/// removed from) this process's environment.
Process spawn(const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env,
              const std::string& log_prefix) {
  Process p;
  p.out = log_prefix + ".out";
  p.err = log_prefix + ".err";
  std::vector<std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    if (env.count(key) == 0) vars.push_back(kv);
  }
  for (const auto& [key, value] : env) {
    if (!value.empty()) vars.push_back(key + "=" + value);
  }
  std::vector<std::string> argv_s = {ADASCALE_BIN};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  const int out = open(p.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err = open(p.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  p.pid = fork();
  if (p.pid == 0) {
    dup2(out, 1);
    dup2(err, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out);
  close(err);
  return p;
}

const std::map<std::string, std::string> kNoLaunch = {
    {"RANK", ""},
    {"WORLD_SIZE", ""},
    {"LOCAL_RANK", ""},
    {"LOCAL_WORLD_SIZE", ""},
    {"MASTER_ADDR", ""},
    {"MASTER_PORT", ""},
    {"TORCHELASTIC_USE_AGENT_STORE", ""}};

/// `ranks` processes of `adascale args...` as torchrun would start them.
std::vector<Process> launch(int ranks, const std::vector<std::string>& args,
                            const std::string& log_prefix) {
  const std::string port = std::to_string(free_port());
  std::vector<Process> out;
  for (int r = 0; r < ranks; ++r) {
    auto env = kNoLaunch;
    env["RANK"] = std::to_string(r);
    env["LOCAL_RANK"] = std::to_string(r);
    env["WORLD_SIZE"] = std::to_string(ranks);
    env["LOCAL_WORLD_SIZE"] = std::to_string(ranks);
    env["MASTER_ADDR"] = "127.0.0.1";
    env["MASTER_PORT"] = port;
    out.push_back(spawn(args, env, log_prefix + ".rank" + std::to_string(r)));
  }
  return out;
}

/// Waits for every rank; kills them all when one overruns.
void wait_all(std::vector<Process>& ranks) {
  for (auto& p : ranks) {
    if (!p.wait()) {
      for (auto& q : ranks) q.kill_now();
      FAIL() << "a rank did not stop by itself";
    }
  }
}

// Generated data: 4 classes of 8×8 images, 320 training and 80 validation
// images; 8 images per rank and step.
const char* kBase = R"(
threads: 1
seed: 3
log_level: info
dataset:
  format: synthetic
  validation_fraction: 0.2
  synthetic: {classes: 4, channels: 3, image_size: 8, train_per_class: 100,
              test_per_class: 10, noise: 0.3, seed: 5}
augment: {crop_padding: 1, horizontal_flip: true}
loader: {batch_size: 8, prefetch: 1}
)";

const char* kTimeout = "distributed: {timeout_seconds: 30}\n";

// A BatchNorm-free network (a one-block ViT): plain DDP is exact in
// principle for it.
const char* kVit = R"(
model:
  name: tiny_vit
  architecture: vit
  in_channels: 3
  resolution: 8
  classes: 4
  dropout: 0.0
  vit: {patch: 4, dim: 16, depth: 1, heads: 2, mlp_dim: 32, dropout: 0.0}
train:
  epochs: 2
  progress: lines
  log_every: 1
  optimizer: {type: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0005}
  schedule: {type: cosine}
)";

// The tiny elastic net (BatchNorm everywhere), no dropout so that two half
// batches draw nothing random the whole batch would draw differently.
const char* kElastic = R"(
model:
  name: tiny
  architecture: elastic
  resolution: 8
  classes: 4
  dropout: 0.0
  stem: {channels: 8}
  stages:
    - {out_channels: 16, stride: 2, depth: 1, candidates: [{type: basic}, {type: dws}]}
    - {out_channels: 24, stride: 2, depth: 1, candidates: [{type: basic}, {type: fire}]}
train:
  progress: lines
  log_every: 1
  optimizer: {type: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0005}
  schedule: {type: cosine}
)";

/// The weights and buffers of `run`'s checkpoints/last.pt, by name.
std::map<std::string, torch::Tensor> weights_of(const std::string& config,
                                                const std::string& run) {
  core::RunConfig c = core::load_run_config(config, {});
  core::ModelSpec spec = c.model;
  core::finalize_model_spec(spec, config);
  std::shared_ptr<torch::nn::Module> module;
  if (spec.elastic()) {
    module = operators::ElasticNet(spec).ptr();
  } else {
    module = operators::zoo::make_zoo_model(spec).ptr();
  }
  training::CheckpointReader(run + "/checkpoints/last.pt",
                             core::model_spec_yaml(spec))
      .restore_model(*module);
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : module->named_parameters()) out[p.key()] = p.value();
  for (const auto& b : module->named_buffers()) out[b.key()] = b.value();
  return out;
}

/// The largest absolute difference between two weight sets.
double max_difference(const std::map<std::string, torch::Tensor>& a,
                      const std::map<std::string, torch::Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (const auto& [name, t] : a) {
    const auto& u = b.at(name);
    worst = std::max(worst, (t.to(torch::kDouble) - u.to(torch::kDouble))
                                .abs()
                                .max()
                                .item<double>());
  }
  return worst;
}

bool identical(const std::map<std::string, torch::Tensor>& a,
               const std::map<std::string, torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    if (!torch::equal(t, b.at(name))) return false;
  }
  return true;
}

/// Trains `config` as one process with per-step batch `batch` into `out`.
void train_alone(const std::string& config, const std::string& out, int batch,
                 const std::string& log) {
  Process p = spawn({"train", "--config", config, "--run", out, "--set",
                     "loader.batch_size=" + std::to_string(batch)},
                    kNoLaunch, log);
  ASSERT_TRUE(p.wait()) << "did not stop by itself";
  ASSERT_EQ(p.status, 0) << p.stderr_text();
}

/// Trains `config` on `ranks` ranks into `out` (extra args appended).
void train_ranks(int ranks, const std::string& config, const std::string& out,
                 const std::vector<std::string>& extra,
                 const std::string& log) {
  std::vector<std::string> args = {"train", "--config", config, "--run", out};
  args.insert(args.end(), extra.begin(), extra.end());
  auto procs = launch(ranks, args, log);
  wait_all(procs);
  for (auto& p : procs) ASSERT_EQ(p.status, 0) << p.stderr_text();
  // Only rank 0 speaks on stdout.
  EXPECT_NE(procs[0].stdout_text(), "");
  for (size_t r = 1; r < procs.size(); ++r) {
    EXPECT_EQ(procs[r].stdout_text(), "");
  }
}

// Tolerance of the one-process comparison: float32 sums taken in another
// order (two half-batch means averaged against one mean, per-rank
// statistics combined) differ by ~1e-7 relative per step; 1e-4 absolute
// after 40 steps leaves two orders of magnitude of room while any
// semantic difference (a sample missed, an unscaled gradient, per-rank
// BatchNorm statistics) moves weights by 1e-2 or more.
constexpr double kTolerance = 1e-4;

TEST(DistributedTrain, TwoRanksMatchOneProcessWithTheWholeBatch) {
  testing::TempDir dir;
  const std::string config =
      dir.write("vit.yaml", std::string(kBase) + kVit + kTimeout);
  train_alone(config, dir.file("alone"), 16, dir.file("alone"));
  train_ranks(2, config, dir.file("ddp"), {}, dir.file("ddp"));
  const double diff = max_difference(weights_of(config, dir.file("alone")),
                                     weights_of(config, dir.file("ddp")));
  EXPECT_LT(diff, kTolerance);
  // Rank 0 alone wrote the run: no second log, no temporary copies.
  EXPECT_TRUE(fs::exists(dir.file("ddp/summary.json")));
  EXPECT_TRUE(fs::exists(dir.file("ddp/metrics.csv")));
}

TEST(DistributedTrain, SyncBatchNormMatchesOneProcessInEveryStage) {
  testing::TempDir dir;
  // Stage 0 with self-distillation, then both stages (freeze mode, the
  // teacher restored from stage 0): every path of the trainer.
  const std::string config =
      dir.write("elastic.yaml",
                std::string(kBase) + kElastic +
                    "  mode: freeze\n  epochs: 1\n  pretrain: {epochs: 1}\n"
                    "  distillation: {weight: 0.3, temperature: 2.0}\n" +
                    kTimeout);
  train_alone(config, dir.file("alone"), 16, dir.file("alone"));
  train_ranks(2, config, dir.file("ddp"), {"--set", "distributed.sync_bn=true"},
              dir.file("ddp"));
  const double diff = max_difference(weights_of(config, dir.file("alone")),
                                     weights_of(config, dir.file("ddp")));
  EXPECT_LT(diff, kTolerance);
}

TEST(DistributedTrain, ResumeMidEpochEndsWithTheSameWeights) {
  testing::TempDir dir;
  // Finetune mode, per-rank BatchNorm with rank 0's buffers (sync_bn off).
  const std::string config = dir.write(
      "elastic.yaml", std::string(kBase) + kElastic +
                          "  mode: finetune\n  epochs: 3\n" + kTimeout);
  train_ranks(2, config, dir.file("whole"), {}, dir.file("whole"));

  // Interrupt rank 0 alone early in stage 1's second epoch: every rank
  // must stop after the same step and exit 130.
  auto procs =
      launch(2, {"train", "--config", config, "--run", dir.file("cut")},
             dir.file("cut"));
  const bool reached = procs[0].wait_for_log("stage 1/2 epoch 2/3 2/20");
  if (reached) ::kill(procs[0].pid, SIGINT);
  wait_all(procs);
  ASSERT_TRUE(reached) << procs[0].stderr_text();
  for (auto& p : procs) EXPECT_EQ(p.status, 130) << p.stderr_text();
  {
    core::RunConfig c = core::load_run_config(config, {});
    core::finalize_model_spec(c.model, config);
    training::CheckpointReader cut(dir.file("cut/checkpoints/last.pt"),
                                   core::model_spec_yaml(c.model));
    EXPECT_EQ(cut.state().world_size, 2);
    EXPECT_EQ(cut.state().epoch, 1);
    EXPECT_GT(cut.state().step, 0) << "not stopped mid-epoch";
  }
  fs::copy(dir.file("cut"), dir.file("cut_one"), fs::copy_options::recursive);

  train_ranks(2, config, dir.file("cut"), {"--resume"}, dir.file("resumed"));
  EXPECT_TRUE(identical(weights_of(config, dir.file("whole")),
                        weights_of(config, dir.file("cut"))));

  // The same checkpoint resumed by one process: its position converts
  // (n steps of 2 ranks are 2n steps of one).
  Process one = spawn({"train", "--run", dir.file("cut_one"), "--resume"},
                      kNoLaunch, dir.file("one"));
  ASSERT_TRUE(one.wait());
  EXPECT_EQ(one.status, 0) << one.stderr_text();
  EXPECT_NE(one.stderr_text().find("steps of 2 rank(s) are"), std::string::npos)
      << one.stderr_text();
}

/// Starts a long 2-rank run and returns once rank 0 is training.
std::vector<Process> start_long_run(const testing::TempDir& dir) {
  const std::string config =
      dir.write("long.yaml", std::string(kBase) + kElastic +
                                 "  mode: freeze\n  epochs: 1000\n"
                                 "distributed: {timeout_seconds: 5}\n");
  auto procs =
      launch(2, {"train", "--config", config, "--run", dir.file("run")},
             dir.file("run"));
  if (!procs[0].wait_for_log("stage 1/2 epoch 1/1000 3/20")) {
    for (auto& p : procs) p.kill_now();
    ADD_FAILURE() << "training did not start: " << procs[0].stderr_text();
  }
  return procs;
}

TEST(DistributedTrain, AKilledRankMakesTheSurvivorExitNamingIt) {
  testing::TempDir dir;
  auto procs = start_long_run(dir);
  if (procs[0].pid < 0) return;
  ::kill(procs[1].pid, SIGKILL);
  ASSERT_TRUE(procs[0].wait()) << "the survivor hangs";
  procs[1].wait();
  EXPECT_NE(procs[0].status, 0);
  const std::string line = last_line(procs[0].stderr_text());
  EXPECT_NE(line.find("adascale: error: distributed: rank 1 of 2"),
            std::string::npos)
      << line;
}

TEST(DistributedTrain, AHungRankMakesTheSurvivorExitNamingIt) {
  testing::TempDir dir;
  auto procs = start_long_run(dir);
  if (procs[0].pid < 0) return;
  ::kill(procs[1].pid, SIGSTOP);  // alive, but never reaches a collective
  const bool ended = procs[0].wait();
  procs[1].kill_now();
  ASSERT_TRUE(ended) << "the survivor hangs";
  EXPECT_NE(procs[0].status, 0);
  const std::string line = last_line(procs[0].stderr_text());
  EXPECT_NE(line.find("adascale: error: distributed: rank 1 of 2"),
            std::string::npos)
      << line;
}

TEST(DistributedTrain, ASetUpErrorOnOneRankEndsEveryRank) {
  testing::TempDir dir;
  const std::string config =
      dir.write("vit.yaml", std::string(kBase) + kVit + kTimeout);
  // Rank 0 refuses the run directory (it already holds a run); rank 1 is
  // told which rank failed instead of waiting for it.
  train_alone(config, dir.file("taken"), 16, dir.file("taken"));
  auto procs =
      launch(2, {"train", "--config", config, "--run", dir.file("taken")},
             dir.file("again"));
  wait_all(procs);
  EXPECT_EQ(procs[0].status, 1);
  EXPECT_NE(procs[0].stderr_text().find("already holds a run"),
            std::string::npos);
  EXPECT_EQ(procs[1].status, 1);
  EXPECT_NE(last_line(procs[1].stderr_text())
                .find("rank 0 of 2 failed during set-up"),
            std::string::npos)
      << procs[1].stderr_text();
}

}  // namespace
}  // namespace adascale
