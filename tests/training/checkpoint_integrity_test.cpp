// Checkpoints carry a SHA-256 of their archive: a damaged byte anywhere is
// refused by name, and so is a checkpoint from before checksums; a write
// that fails midway keeps the previous checkpoint. Behind a recomputed
// checksum, damage to the archive's pickles is still refused by name,
// within bounded memory (checked under an address-space limit).

#include <gtest/gtest.h>
#include <stdlib.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/execution.h"
#include "core/file_checksum.h"
#include "tests/archive_damage.h"
#include "tests/memory_limit.h"
#include "tests/test_util.h"
#include "tests/training/training_fixture.h"
#include "training/checkpoint.h"

namespace adascale::training {
namespace {

using adascale::testing::LimitedRun;
using adascale::testing::TempDir;
using adascale::testing::ZipRecord;
namespace fs = std::filesystem;

// Far above what reading a small checkpoint takes, far below what an
// unbounded allocation asks for.
constexpr size_t kHeadroom = size_t(512) << 20;

// Exit codes of the child that reads one checkpoint (read_bounded).
constexpr int kRead = 0;              // read, weights as write_checkpoint's
constexpr int kReadOtherWeights = 1;  // read, weights not as written
constexpr int kRefusedByName = 10;

std::string write_checkpoint(const std::string& path, int epoch) {
  torch::manual_seed(1);
  torch::nn::Linear model(16, 8);
  TrainingState state;
  state.epoch = epoch;
  state.trunk = {0};
  save_checkpoint(path, *model, nullptr, state, "spec");
  return core::read_file(path);
}

// Reads `path` as a resumed run does (the reader, then the weights into a
// net like the one that wrote them) in a child under the address-space
// limit, where a failed allocation ends the child even if caught. The
// child exits kRefusedByName for a DataError that starts with the file's
// name and holds `needle`; any other error comes back as its message.
LimitedRun read_bounded(const std::string& path,
                        const std::string& needle = "") {
  return adascale::testing::run_within_memory(kHeadroom, [&] {
    try {
      CheckpointReader reader(path, "spec");
      torch::nn::Linear model(16, 8);
      reader.restore_model(*model);
      torch::manual_seed(1);  // the weights write_checkpoint() saved
      torch::nn::Linear written(16, 8);
      return torch::equal(model->weight, written->weight) &&
                     torch::equal(model->bias, written->bias)
                 ? kRead
                 : kReadOtherWeights;
    } catch (const DataError& e) {
      const std::string what = e.what();
      if (what.rfind("checkpoint " + path + ": ", 0) == 0 &&
          what.find(needle) != std::string::npos) {
        return kRefusedByName;
      }
      throw;
    }
  });
}

std::string describe(const LimitedRun& run) {
  if (run.status == adascale::testing::kRanOutOfMemory) {
    return "an allocation failed under the address-space limit";
  }
  return "status " + std::to_string(run.status) + ": " + run.message;
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

// A pickle memo bomb behind a valid checksum, as a file whose seal was
// recomputed over it would come: refused by name from its pickles before
// LibTorch's unpickler sizes its memo by the index (25.6 GB for 1.6e9).
// The fuzzer's finding as found (without the seal it now stops at "has no
// checksum"); the same behind names LibTorch looks up but a listing of
// "*.pkl" inside the archive's folder would pass over (its lookup ignores
// case; a record outside the folder fails the listing, not the loader);
// and the same store planted in a checkpoint of this build.
TEST(CheckpointIntegrity, ASealedPickleMemoBombIsRefusedWithinBoundedMemory) {
  using adascale::testing::with_memo_index;
  using adascale::testing::with_record_renamed;
  TempDir dir;
  const std::string path = dir.file("hostile.pt");
  const std::string found =
      core::read_file((fs::path(__FILE__).parent_path().parent_path() /
                       "fuzz_regressions/checkpoint/memo_index_of_1.6e9")
                          .string());
  ASSERT_EQ(found.compare(0, 2, "PK"), 0);
  const std::string ours(core::unseal(write_checkpoint(path, 4), path));
  const struct {
    const char* what;
    std::string archive;
    const char* needle;
  } cases[] = {
      {"as found", found, "data.pkl: pickle memo index 1600090442"},
      {"in data.Pkl",
       with_record_renamed(found, "archive/data.pkl", "archive/data.Pkl"),
       "data.Pkl: pickle memo index 1600090442"},
      {"beside a record outside the folder",
       with_record_renamed(found, "archive/version", "Archive/version"),
       "a record outside the archive's folder"},
      {"in a checkpoint of this build", with_memo_index(ours, 1600000000),
       "data.pkl: pickle memo index 1600000000"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_FALSE(c.archive.empty());
    core::write_file_atomic(path, core::seal(c.archive));
    const LimitedRun run = read_bounded(path, c.needle);
    EXPECT_EQ(run.status, kRefusedByName) << describe(run);
  }
}

// A checkpoint damaged and then resealed, as a checksum recomputed over the
// damage would hand it over, at 64 bytes spread over the archive. What the
// reader guarantees without the seal's help: a DataError naming the file
// or a read, never another error, a crash or an unbounded allocation; and
// a damaged byte of a tensor's data is read as it is, since the values are
// guarded by the seal alone. TorchScript code records are left whole:
// LibTorch compiles them while it loads, and a damaged one crashes it
// (tests/fuzz_regressions/checkpoint/checkpoint_torchscript_type_parser_segv),
// which only the seal prevents.
TEST(CheckpointIntegrity,
     ResealedDamageIsRefusedByNameOrReadWithinBoundedMemory) {
  TempDir dir;
  const std::string path = dir.file("resealed.pt");
  const std::string bare(core::unseal(write_checkpoint(path, 3), path));
  const std::vector<ZipRecord> records = adascale::testing::zip_records(bare);
  ASSERT_FALSE(records.empty());
  int refused_in_pickle = 0, tensor_bytes = 0, damaged_weights = 0;
  for (size_t offset :
       adascale::testing::damageable_offsets(bare, records, 64)) {
    std::string damaged = bare;
    damaged[offset] = char(damaged[offset] ^ 0x21);
    core::write_file_atomic(path, core::seal(damaged));
    const ZipRecord* in = adascale::testing::record_at(records, offset);
    SCOPED_TRACE("offset " + std::to_string(offset) + " in " +
                 (in != nullptr ? in->name : "the zip directory"));
    const LimitedRun run = read_bounded(path);
    if (in != nullptr && in->holds_tensor_byte(offset)) {
      ++tensor_bytes;
      damaged_weights += run.status == kReadOtherWeights;
      EXPECT_TRUE(run.status == kRead || run.status == kReadOtherWeights)
          << describe(run);
      continue;
    }
    EXPECT_TRUE(run.status == kRefusedByName || run.status == kRead ||
                run.status == kReadOtherWeights)
        << describe(run);
    if (in != nullptr && in->inner() == "data.pkl") {
      refused_in_pickle += run.status == kRefusedByName;
    }
  }
  // The sweep got past the zip structure into the pickles, and into the
  // weights, which arrive damaged.
  EXPECT_GT(refused_in_pickle, 0);
  EXPECT_GT(tensor_bytes, 0);
  EXPECT_GT(damaged_weights, 0);
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
  first.train_until(/*stage=*/1, /*epoch=*/1, /*step=*/3);
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
