// Checkpoints carry a SHA-256 of their archive: a damaged byte anywhere is
// refused by name, and so is a checkpoint from before checksums; a write
// that fails midway keeps the previous checkpoint.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/execution.h"
#include "core/file_checksum.h"
#include "core/interrupt.h"
#include "tests/test_util.h"
#include "tests/training/training_fixture.h"
#include "training/checkpoint.h"

namespace adascale::training {
namespace {

using adascale::testing::TempDir;
namespace fs = std::filesystem;

std::string write_checkpoint(const std::string& path, int epoch) {
  torch::manual_seed(1);
  torch::nn::Linear model(16, 8);
  TrainingState state;
  state.epoch = epoch;
  state.trunk = {0};
  save_checkpoint(path, *model, nullptr, state, "spec");
  return core::read_file(path);
}

// Weights are read onto the device the reader is given, whatever device
// wrote them, so a run moves between CPU and GPU machines; the meta device
// stands in for a GPU here.
TEST(CheckpointIntegrity, WeightsAreReadOntoTheGivenDevice) {
  TempDir dir;
  const std::string path = dir.file("c.pt");
  write_checkpoint(path, 1);
  torch::manual_seed(1);
  torch::nn::Linear written(16, 8);

  torch::nn::Linear on_cpu(16, 8);
  CheckpointReader(path, "spec").restore_model(*on_cpu);
  EXPECT_TRUE(on_cpu->weight.device().is_cpu());
  EXPECT_TRUE(torch::equal(on_cpu->weight, written->weight));

  // LibTorch 1.13 cannot move a module to the meta device (set_data
  // refuses), so this one holds meta parameters from the start, named as
  // the Linear's.
  struct MetaLinear : torch::nn::Module {
    MetaLinear() {
      const auto meta = torch::TensorOptions().device(c10::kMeta);
      weight = register_parameter("weight", torch::empty({8, 16}, meta));
      bias = register_parameter("bias", torch::empty({8}, meta));
    }
    torch::Tensor weight, bias;
  } elsewhere;
  CheckpointReader(path, "spec", c10::kMeta).restore_model(elsewhere);
  EXPECT_TRUE(elsewhere.weight.device().is_meta());
  EXPECT_EQ(elsewhere.weight.sizes(), written->weight.sizes());
  // Read onto the CPU, a meta module cannot take them: the device given is
  // the one the tensors arrive on.
  EXPECT_THROW(CheckpointReader(path, "spec").restore_model(elsewhere),
               DataError);
}

TEST(CheckpointIntegrity, AFlippedByteAnywhereIsRefusedByName) {
  TempDir dir;
  const std::string path = dir.file("last.pt");
  const std::string good = write_checkpoint(path, 3);
  ASSERT_TRUE(core::is_sealed(good));
  EXPECT_EQ(CheckpointReader(path, "spec").state().epoch, 3);
  for (size_t offset : {size_t(5), size_t(100), good.size() / 3,
                        good.size() / 2, good.size() - 30, good.size() - 1}) {
    std::string damaged = good;
    damaged[offset] = char(damaged[offset] ^ 0x01);
    SCOPED_TRACE("offset " + std::to_string(offset));
    core::write_file_atomic(path, damaged);
    EXPECT_THROW_WITH(CheckpointReader(path, "spec"), DataError,
                      "checkpoint " + path + ": ");
  }
  core::write_file_atomic(path, good.substr(0, good.size() - 7));
  EXPECT_THROW_WITH(CheckpointReader(path, "spec"), DataError,
                    "checksum mismatch");
}

TEST(CheckpointIntegrity, ACheckpointWithoutAChecksumIsRefusedByName) {
  TempDir dir;
  const std::string path = dir.file("old.pt");
  const std::string sealed = write_checkpoint(path, 5);
  // What builds before checksums wrote: the bare archive. It cannot be
  // verified, and a damaged code record in it crashes LibTorch's loader
  // (fuzz/checkpoint_fuzz), so it never reaches the loader, intact or not.
  const std::string bare = sealed.substr(sealed.find('\n') + 1);
  ASSERT_EQ(bare.compare(0, 2, "PK"), 0);
  for (size_t offset : {size_t(0), bare.size() / 3, bare.size() / 2}) {
    std::string damaged = bare;
    if (offset > 0) damaged[offset] = char(damaged[offset] ^ 0x5a);
    core::write_file_atomic(path, damaged);
    EXPECT_THROW_WITH(CheckpointReader(path, "spec"), DataError,
                      "checkpoint " + path + ": has no checksum");
  }
}

TEST(CheckpointIntegrity, AWriteThatFailsMidwayKeepsThePreviousCheckpoint) {
  TempDir dir;
  const std::string path = dir.file("last.pt");
  const std::string good = write_checkpoint(path, 2);
  ::setenv("ADASCALE_TEST_WRITE_LIMIT", "2048", 1);
  EXPECT_THROW_WITH(write_checkpoint(path, 9), IoError,
                    "No space left on device");
  ::unsetenv("ADASCALE_TEST_WRITE_LIMIT");
  EXPECT_EQ(core::read_file(path), good);
  EXPECT_EQ(CheckpointReader(path, "spec").state().epoch, 2);
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "last.pt") << "left behind";
  }
}

// A damaged last.pt is passed over like a missing one: --resume continues
// from the newest intact stage checkpoint, to the very weights of an
// uninterrupted run.
TEST(CheckpointIntegrity, ResumeWithADamagedLastCheckpointUsesTheNewestStage) {
  TempDir dir;
  auto config = make_config(dir);
  TrainRun straight(config, dir.file("straight"));
  straight.train();

  const std::string run_dir = dir.file("resumed");
  TrainRun first(config, run_dir);
  first.options.on_step = [](int stage, int epoch, int step) {
    if (stage == 1 && epoch == 1 && step == 3) core::request_interrupt();
  };
  first.train();
  core::clear_interrupt();
  const std::string last = run_dir + "/checkpoints/last.pt";
  std::string bytes = core::read_file(last);
  bytes[bytes.size() / 2] = char(bytes[bytes.size() / 2] ^ 0x40);
  core::write_file_atomic(last, bytes);
  TrainRun second(config, run_dir, /*init_seed=*/99);
  TrainingReport done = second.train(/*resume=*/true);
  EXPECT_FALSE(done.interrupted);
  EXPECT_TRUE(identical(state_of(*straight.net), state_of(*second.net)));
  // The run wrote a good last.pt over the damaged one.
  EXPECT_NO_THROW(CheckpointReader(last, core::model_spec_yaml(config.model)));
}

}  // namespace
}  // namespace adascale::training
