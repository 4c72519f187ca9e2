// The data-parallel plumbing in one process: the torchrun environment, the
// communicator's collectives between two ranks on two threads (loopback),
// failures that name the rank, and synchronised BatchNorm on one rank
// against LibTorch's own. The multi-process training runs are in
// tests/apps/distributed_train_test.cpp.

#include "training/distributed.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <map>
#include <thread>

#include "tests/test_util.h"
#include "training/sync_batch_norm.h"

namespace adascale::training {
namespace {

/// A TCP port nobody listens on right now.
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::function<const char*(const char*)> env(
    std::map<std::string, std::string> vars) {
  auto held = std::make_shared<std::map<std::string, std::string>>(vars);
  return [held](const char* name) -> const char* {
    auto it = held->find(name);
    return it == held->end() ? nullptr : it->second.c_str();
  };
}

core::DistributedConfig quick_config() {
  core::DistributedConfig c;
  c.timeout_seconds = 10;
  return c;
}

/// Runs `body(rank, communicator)` for ranks 0 and 1 on two threads, each
/// with a communicator of its own, joined through a store on `port`.
void two_ranks(const std::function<void(int, Communicator&)>& body,
               core::DistributedConfig config = quick_config()) {
  const int port = free_port();
  auto rank = [&](int r) {
    LaunchInfo launch;
    launch.rank = r;
    launch.world_size = 2;
    launch.master_addr = "127.0.0.1";
    launch.master_port = port;
    auto comm = Communicator::connect(launch, config);
    body(r, *comm);
  };
  auto other = std::async(std::launch::async, rank, 1);
  rank(0);
  other.get();
}

TEST(LaunchEnvironment, AbsentMeansOneProcess) {
  EXPECT_FALSE(launch_from_environment(env({})).has_value());
}

TEST(LaunchEnvironment, ReadsWhatTorchrunSets) {
  auto info =
      launch_from_environment(env({{"RANK", "3"},
                                   {"WORLD_SIZE", "4"},
                                   {"LOCAL_RANK", "1"},
                                   {"LOCAL_WORLD_SIZE", "2"},
                                   {"MASTER_ADDR", "10.0.0.7"},
                                   {"MASTER_PORT", "29500"},
                                   {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                                   {"TORCHELASTIC_RESTART_COUNT", "2"}}));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->rank, 3);
  EXPECT_EQ(info->world_size, 4);
  EXPECT_EQ(info->local_rank, 1);
  EXPECT_EQ(info->local_world_size, 2);
  EXPECT_EQ(info->master_addr, "10.0.0.7");
  EXPECT_EQ(info->master_port, 29500);
  EXPECT_TRUE(info->agent_store);
  EXPECT_EQ(info->restart_count, 2);
}

TEST(LaunchEnvironment, BadOrPartialVariablesNameTheVariable) {
  const std::map<std::string, std::string> ok = {{"RANK", "0"},
                                                 {"WORLD_SIZE", "2"},
                                                 {"MASTER_ADDR", "127.0.0.1"},
                                                 {"MASTER_PORT", "29500"}};
  auto with = [&](const std::string& key, const char* value) {
    auto vars = ok;
    if (value == nullptr) {
      vars.erase(key);
    } else {
      vars[key] = value;
    }
    return env(vars);
  };
  EXPECT_THROW_WITH(launch_from_environment(with("WORLD_SIZE", nullptr)),
                    ConfigError, "RANK is set but WORLD_SIZE is not");
  EXPECT_THROW_WITH(launch_from_environment(with("RANK", "2")), ConfigError,
                    "RANK=2: must be below WORLD_SIZE=2");
  EXPECT_THROW_WITH(launch_from_environment(with("RANK", "one")), ConfigError,
                    "RANK=one: expected an integer");
  EXPECT_THROW_WITH(launch_from_environment(with("MASTER_PORT", "70000")),
                    ConfigError, "MASTER_PORT=70000");
  EXPECT_THROW_WITH(launch_from_environment(with("MASTER_PORT", nullptr)),
                    ConfigError, "MASTER_PORT: unset");
  EXPECT_THROW_WITH(launch_from_environment(with("MASTER_ADDR", nullptr)),
                    ConfigError, "MASTER_ADDR: unset");
}

TEST(Communicator, NcclIsRefusedWithAReason) {
  core::DistributedConfig c = quick_config();
  c.backend = "nccl";
  LaunchInfo launch;
  launch.world_size = 2;
  launch.master_addr = "127.0.0.1";
  launch.master_port = free_port();
  // Debian's LibTorch has no NCCL; a CUDA build refuses CPU tensors.
  EXPECT_THROW_WITH(Communicator::connect(launch, c), ConfigError,
                    "distributed.backend: nccl");
}

TEST(Communicator, CollectivesBetweenTwoRanks) {
  two_ranks([](int rank, Communicator& comm) {
    EXPECT_EQ(comm.rank(), rank);
    EXPECT_EQ(comm.world_size(), 2);
    EXPECT_EQ(comm.backend(), "gloo");

    // Broadcast: rank 0's values everywhere, several dtypes at once.
    auto f = torch::full({3, 2}, float(rank + 1));
    auto i = torch::full({4}, int64_t(10 * (rank + 1)), torch::kInt64);
    comm.broadcast({f, i}, "test broadcast");
    EXPECT_TRUE(torch::equal(f, torch::ones({3, 2})));
    EXPECT_TRUE(torch::equal(i, torch::full({4}, int64_t(10), torch::kInt64)));

    auto s = torch::arange(5, torch::kDouble) * (rank + 1);
    comm.all_reduce_sum({s}, "test sum");
    EXPECT_TRUE(torch::allclose(s, torch::arange(5, torch::kDouble) * 3));

    EXPECT_FALSE(comm.any(false, "test any"));
    EXPECT_TRUE(comm.any(rank == 1, "test any"));
    EXPECT_EQ(comm.broadcast_bytes(rank == 0 ? "from zero" : "x", "bytes"),
              "from zero");
    EXPECT_EQ(comm.broadcast_bytes("", "bytes"), "");

    AccuracyMeter m;
    m.samples = 10 + rank;
    m.top1_correct = 5 + rank;
    m.top5_correct = 9;
    m.loss_sum = 1.5 * (rank + 1);
    auto total = comm.all_reduce(std::vector<AccuracyMeter>{m}, "meters");
    EXPECT_EQ(total[0].samples, 21);
    EXPECT_EQ(total[0].top1_correct, 11);
    EXPECT_EQ(total[0].top5_correct, 18);
    EXPECT_DOUBLE_EQ(total[0].loss_sum, 4.5);
    comm.agree(true, "test agreement");
  });
}

TEST(Communicator, GradientsAreAveragedInBuckets) {
  core::DistributedConfig c = quick_config();
  c.bucket_mb = 40.0 / 1048576.0;  // 40 bytes: several buckets
  two_ranks(
      [](int rank, Communicator& comm) {
        std::vector<torch::Tensor> params;
        for (int64_t n : {3, 7, 1, 12}) {
          auto p = torch::zeros({n}).requires_grad_();
          p.mutable_grad() = torch::arange(n, torch::kFloat) * (rank + 1);
          params.push_back(p);
        }
        // A parameter without a gradient keeps none.
        params.push_back(torch::zeros({2}).requires_grad_());
        comm.average_gradients(params);
        for (size_t k = 0; k + 1 < params.size(); ++k) {
          const int64_t n = params[k].numel();
          EXPECT_TRUE(torch::allclose(params[k].grad(),
                                      torch::arange(n, torch::kFloat) * 1.5));
        }
        EXPECT_FALSE(params.back().grad().defined());
        EXPECT_EQ(comm.stats().gradient_reductions, 1);
        EXPECT_EQ(comm.stats().gradient_bytes, (3 + 7 + 1 + 12 + 2) * 4);
      },
      c);
}

TEST(Communicator, ASetUpFailureIsNamedOnTheOtherRanks) {
  two_ranks([](int rank, Communicator& comm) {
    if (rank == 1) {
      comm.agree(false, "set-up");  // rank 1 reports its own error itself
    } else {
      EXPECT_THROW_WITH(comm.agree(true, "set-up"), DistributedError,
                        "rank 1 of 2 failed during set-up");
    }
  });
}

TEST(Communicator, ARankThatLeavesIsNamed) {
  two_ranks([](int rank, Communicator& comm) {
    auto t = torch::ones({4});
    comm.all_reduce_sum({t}, "warm-up");
    if (rank == 1) return;  // its communicator closes: the rank is gone
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto u = torch::ones({4});
    EXPECT_THROW_WITH(comm.all_reduce_sum({u}, "test sum"), DistributedError,
                      "rank 1 of 2 stopped");
  });
}

// Synchronised BatchNorm on one rank is LibTorch's BatchNorm: the same
// output, input and parameter gradients and running statistics.
TEST(SyncBatchNorm, OneRankMatchesBatchNorm) {
  LaunchInfo launch;
  launch.world_size = 1;
  launch.master_addr = "127.0.0.1";
  launch.master_port = free_port();
  auto comm = Communicator::connect(launch, quick_config());
  torch::manual_seed(0);
  torch::nn::BatchNorm2d plain(5), synced(5);
  {
    torch::NoGradGuard no_grad;
    plain->weight.uniform_(0.5, 1.5);
    plain->bias.uniform_(-0.5, 0.5);
    synced->weight.copy_(plain->weight);
    synced->bias.copy_(plain->bias);
  }
  const auto x = (torch::randn({6, 5, 4, 3}) * 2 + 1).contiguous();
  const auto weights = torch::randn({6, 5, 4, 3});
  auto run = [&](torch::nn::BatchNorm2d& bn, bool sync) {
    std::optional<SyncBatchNormScope> scope;
    if (sync) scope.emplace(*comm);
    auto input = x.clone().requires_grad_();
    bn->train();
    auto y = bn(input);
    (y * weights).sum().backward();
    return std::vector<torch::Tensor>{y.detach(), input.grad(),
                                      bn->weight.grad(), bn->bias.grad()};
  };
  const auto a = run(plain, false);
  const auto b = run(synced, true);
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_TRUE(torch::allclose(a[k], b[k], 1e-4, 1e-5)) << "output " << k;
  }
  EXPECT_TRUE(
      torch::allclose(plain->running_mean, synced->running_mean, 1e-5, 1e-6));
  EXPECT_TRUE(
      torch::allclose(plain->running_var, synced->running_var, 1e-5, 1e-6));
  EXPECT_EQ(plain->num_batches_tracked.item<int64_t>(),
            synced->num_batches_tracked.item<int64_t>());
  // Evaluation goes to LibTorch's own kernel, and with the scope gone so
  // does training.
  plain->eval();
  synced->eval();
  {
    SyncBatchNormScope scope(*comm);
    EXPECT_TRUE(torch::allclose(plain(x), synced(x), 1e-5, 1e-6));
    EXPECT_THROW(SyncBatchNormScope{*comm}, InternalError);
  }
}

}  // namespace
}  // namespace adascale::training
