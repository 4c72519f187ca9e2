// Training checkpoints: the reader, then every restore into a small fixed
// model and optimiser (what `adascale train --resume` does).

#include <torch/torch.h>

#include <string>

#include "core/atomic_file.h"
#include "core/file_checksum.h"
#include "fuzz/fuzz_input.h"
#include "training/checkpoint.h"
#include "training/training_optimizer.h"

namespace adascale::fuzz {

namespace {

torch::nn::Sequential fuzz_model() {
  return torch::nn::Sequential(torch::nn::Linear(3, 2),
                               torch::nn::BatchNorm1d(2));
}

training::TrainingOptimizer fuzz_optimizer(torch::nn::Module& model) {
  return training::TrainingOptimizer(core::OptimizerConfig(),
                                     {{model.parameters(), 1.0}});
}

}  // namespace

std::string checkpoint_seed(bool sealed) {
  torch::manual_seed(0);
  auto model = fuzz_model();
  auto optimizer = fuzz_optimizer(*model);
  torch::Tensor loss = model->forward(torch::ones({4, 3})).sum();
  loss.backward();
  optimizer.step();
  training::TrainingState state;
  state.stage = 1;
  state.trunk = {0};
  state.meters.resize(2);
  state.validation_top1 = {0.5, 0.25};
  training::StageReport report;
  report.heads = {"exit1"};
  report.top1 = {0.5};
  state.stages.push_back(report);
  ScratchDir dir;
  const std::string path = (dir.path() / "seed.pt").string();
  training::save_checkpoint(path, *model, &optimizer, state,
                            kCheckpointFingerprint);
  const std::string bytes = core::read_file(path);
  if (sealed) return bytes;
  return std::string(core::unseal(bytes, path));
}

void run_checkpoint_input(std::string_view data) {
  ScratchDir dir;
  const std::string path = dir.write("checkpoint.pt", data);
  training::CheckpointReader reader(path, kCheckpointFingerprint);
  auto model = fuzz_model();
  reader.restore_model(*model);
  if (reader.has_optimizer()) {
    auto optimizer = fuzz_optimizer(*model);
    reader.restore_optimizer(optimizer);
  }
  reader.restore_rng();
}

}  // namespace adascale::fuzz
