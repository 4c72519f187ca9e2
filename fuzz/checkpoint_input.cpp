// Training checkpoints: the reader, then every restore into a small fixed
// model and optimiser (what `adascale train --resume` does).

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

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

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](char c) {
    return char(std::tolower(static_cast<unsigned char>(c)));
  });
  return text;
}

// TorchScript source and its debug pickles, as LibTorch finds them (by
// name, ignoring case).
bool is_code(const std::string& name) {
  return lower(name).rfind("code/", 0) == 0;
}

// `code` without the hexadecimal digits after each "0x": the optimiser
// state's class names its members after the parameters' addresses, which
// differ from one process to the next. Whatever digits stand there, the
// code is LibTorch's.
std::string without_addresses(std::string_view code) {
  std::string out;
  for (size_t i = 0; i < code.size();) {
    out += code[i++];
    if (out.size() < 2 || out.compare(out.size() - 2, 2, "0x") != 0) continue;
    while (i < code.size() &&
           std::isxdigit(static_cast<unsigned char>(code[i])))
      ++i;
  }
  return out;
}

// The valid seed's code records, by lower-case name, without addresses.
const std::map<std::string, std::string>& seed_code() {
  static const std::map<std::string, std::string> code = [] {
    std::map<std::string, std::string> out;
    std::istringstream in(checkpoint_seed(false));
    caffe2::serialize::PyTorchStreamReader reader(&in);
    for (const std::string& name : reader.getAllRecords()) {
      if (!is_code(name)) continue;
      const auto [data, size] = reader.getRecord(name);
      out[lower(name)] = without_addresses(
          std::string_view(static_cast<const char*>(data.get()), size));
    }
    return out;
  }();
  return code;
}

// Whether every code record LibTorch may compile from `archive` is one of
// the valid seed's, byte for byte but for addresses. LibTorch crashes on a
// damaged one (docs/fuzzing.md: checkpoint_torchscript_type_parser_segv); in a
// sealed file only the checksum stands between the two, so a resealed input
// with mutated code is no finding of ours.
bool code_is_the_seeds(std::string_view archive) {
  std::istringstream in{std::string(archive)};
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  std::vector<std::string> names;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(&in);
    names = reader->getAllRecords();
  } catch (const std::exception&) {
    // Not a zip (LibTorch's loader fails the same way) or a record outside
    // the archive's folder (check_archive_pickles refuses it first).
    return true;
  }
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (!is_code(name)) continue;
    // Two names LibTorch cannot tell apart: which one it reads is its own.
    if (!seen.insert(lower(name)).second) return false;
    const auto seed = seed_code().find(lower(name));
    if (seed == seed_code().end()) return false;
    try {
      const auto [data, size] = reader->getRecord(name);
      if (without_addresses(std::string_view(
              static_cast<const char*>(data.get()), size)) != seed->second) {
        return false;
      }
    } catch (const std::exception&) {
      // Unreadable here is unreadable to LibTorch's loader too.
    }
  }
  return true;
}

}  // namespace

bool checkpoint_input_passed_over(std::string_view data) {
  return data.substr(0, kResealMarker.size()) == kResealMarker &&
         !code_is_the_seeds(data.substr(kResealMarker.size()));
}

void run_checkpoint_input(std::string_view data) {
  if (checkpoint_input_passed_over(data)) return;
  std::string bytes(data);
  if (data.substr(0, kResealMarker.size()) == kResealMarker) {
    bytes = core::seal(data.substr(kResealMarker.size()));
  }
  ScratchDir dir;
  const std::string path = dir.write("checkpoint.pt", bytes);
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
