#include "training/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_checksum.h"
#include "core/logging.h"
#include "operators/archive_check.h"
#include "operators/weight_loading.h"
#include "training/training_optimizer.h"

namespace adascale::training {
namespace {

constexpr const char* kFormat = "adascale-checkpoint";
constexpr int64_t kVersion = 1;

std::vector<int64_t> to_int64(const std::vector<int>& v) {
  return {v.begin(), v.end()};
}

template <typename T>
c10::IValue list(const std::vector<T>& v) {
  return c10::IValue(v);
}

// Finished stages as columns; a stage's heads and their top-1 are
// flattened, with a count per stage.
void write_stages(torch::serialize::OutputArchive& archive,
                  const TrainingState& state) {
  std::vector<int64_t> ids, epochs, reached, choice, peak, counts;
  std::vector<double> seconds, rate, top1;
  std::vector<std::string> heads;
  for (const StageReport& s : state.stages) {
    ids.push_back(s.stage);
    epochs.push_back(s.epochs);
    reached.push_back(s.reached_target);
    choice.push_back(s.trunk_choice);
    peak.push_back(s.peak_rss_bytes);
    seconds.push_back(s.seconds);
    rate.push_back(s.images_per_second);
    counts.push_back(int64_t(s.heads.size()));
    heads.insert(heads.end(), s.heads.begin(), s.heads.end());
    top1.insert(top1.end(), s.top1.begin(), s.top1.end());
  }
  archive.write("stage_ids", list(ids));
  archive.write("stage_epochs", list(epochs));
  archive.write("stage_reached", list(reached));
  archive.write("stage_choice", list(choice));
  archive.write("stage_peak_rss", list(peak));
  archive.write("stage_seconds", list(seconds));
  archive.write("stage_images_per_second", list(rate));
  archive.write("stage_head_counts", list(counts));
  archive.write("stage_heads", c10::IValue(c10::List<std::string>(heads)));
  archive.write("stage_top1", list(top1));
  archive.write("current_stage_seconds", c10::IValue(state.stage_seconds));
  archive.write("current_stage_peak_rss",
                c10::IValue(state.stage_peak_rss_bytes));
}

}  // namespace

void save_checkpoint(const std::string& path, torch::nn::Module& model,
                     const TrainingOptimizer* optimizer,
                     const TrainingState& state,
                     const std::string& fingerprint) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("version", c10::IValue(kVersion));
  archive.write("fingerprint", c10::IValue(fingerprint));

  archive.write("stage", c10::IValue(int64_t(state.stage)));
  archive.write("epoch", c10::IValue(int64_t(state.epoch)));
  archive.write("step", c10::IValue(int64_t(state.step)));
  archive.write("trunk", list(to_int64(state.trunk)));
  std::vector<double> loss;
  std::vector<int64_t> top1, top5, samples;
  for (const auto& m : state.meters) {
    loss.push_back(m.loss_sum);
    top1.push_back(m.top1_correct);
    top5.push_back(m.top5_correct);
    samples.push_back(m.samples);
  }
  archive.write("meter_loss", list(loss));
  archive.write("meter_top1", list(top1));
  archive.write("meter_top5", list(top5));
  archive.write("meter_samples", list(samples));
  archive.write("validation_top1", list(state.validation_top1));
  archive.write("metrics_rows", c10::IValue(state.metrics_rows));
  archive.write("wall_seconds", c10::IValue(state.wall_seconds));
  archive.write("finished", c10::IValue(state.finished));
  archive.write("pretrained", c10::IValue(state.pretrained));
  archive.write("world_size", c10::IValue(int64_t(state.world_size)));
  write_stages(archive, state);

  torch::serialize::OutputArchive weights;
  model.save(weights);
  archive.write("model", weights);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive opt;
    optimizer->save(opt);
    archive.write("optimizer", opt);
  }
  auto generator = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("rng", generator.get_state(), /*is_buffer=*/true);
  }

  std::ostringstream out;
  archive.save_to(out);
  // The checksum travels inside the file, so the one atomic rename that
  // installs the checkpoint installs its checksum with it.
  core::write_file_atomic(path, core::seal(out.str()));
}

CheckpointReader::CheckpointReader(const std::string& path,
                                   const std::string& fingerprint,
                                   c10::Device device)
    : path_(path) {
  const std::string bytes = core::read_file(path);
  std::string_view payload = bytes;
  if (core::is_sealed(bytes)) {
    payload = core::unseal(bytes, "checkpoint " + path);
  } else if (bytes.compare(0, 2, "PK") == 0) {
    // A zip archive without the header, as builds before checksums wrote
    // them. Refused: LibTorch compiles the archive's TorchScript code
    // records while loading, and a damaged one crashes the process
    // (SIGSEGV in ScriptTypeParser, found by fuzz/checkpoint_fuzz), which
    // no check of ours after the fact can turn into an error.
    fail(
        "has no checksum (written by a build before checkpoints were "
        "sealed); refusing to load an archive that cannot be verified");
  } else {
    fail("not a readable checkpoint (truncated or corrupted)");
  }
  try {
    // LibTorch allocates what the archive's pickles declare before reading
    // on: bound it first (a 20 KiB archive asked for 25 GB; found by
    // fuzz/checkpoint_fuzz).
    operators::check_archive_pickles(payload, "archive");
  } catch (const DataError& e) {
    fail(std::string("not a readable checkpoint (") + e.what() + ")");
  }
  try {
    std::istringstream in{std::string(payload)};
    archive_.load_from(in, device);
  } catch (const std::exception&) {
    // Damaged pickles surface as c10::Error but also as std::out_of_range
    // and friends from deep inside the unpickler.
    fail("not a readable checkpoint (truncated or corrupted)");
  }
  c10::IValue v;
  try {
    if (!archive_.try_read("format", v) || !v.isString() ||
        v.toStringRef() != kFormat) {
      fail("not an AdaScale training checkpoint");
    }
    if (!archive_.try_read("version", v) || !v.isInt() ||
        v.toInt() != kVersion) {
      throw CheckpointMismatchError(
          "checkpoint " + path_ + ": checkpoint format version " +
          (v.isInt() ? std::to_string(v.toInt()) : std::string("?")) +
          ", this build reads version " + std::to_string(kVersion));
    }
    if (!archive_.try_read("fingerprint", v) || !v.isString()) {
      fail("missing or malformed training state");
    }
    if (v.toStringRef() != fingerprint) {
      throw CheckpointMismatchError(
          "checkpoint " + path_ +
          ": written for a different model spec; refusing to load it");
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception&) {
    fail("not a readable checkpoint (truncated or corrupted)");
  }
  try {
    auto get_int = [&](const char* key) { return value(key).toInt(); };
    auto get_ints = [&](const char* key) { return value(key).toIntVector(); };
    auto get_doubles = [&](const char* key) {
      return value(key).toDoubleVector();
    };
    state_.stage = int(get_int("stage"));
    state_.epoch = int(get_int("epoch"));
    state_.step = int(get_int("step"));
    for (int64_t t : get_ints("trunk")) state_.trunk.push_back(int(t));
    auto loss = get_doubles("meter_loss");
    auto top1 = get_ints("meter_top1");
    auto top5 = get_ints("meter_top5");
    auto samples = get_ints("meter_samples");
    if (top1.size() != loss.size() || top5.size() != loss.size() ||
        samples.size() != loss.size()) {
      fail("inconsistent running meters");
    }
    for (size_t i = 0; i < loss.size(); ++i) {
      AccuracyMeter m;
      m.loss_sum = loss[i];
      m.top1_correct = top1[i];
      m.top5_correct = top5[i];
      m.samples = samples[i];
      state_.meters.push_back(m);
    }
    state_.validation_top1 = get_doubles("validation_top1");
    state_.metrics_rows = get_int("metrics_rows");
    c10::IValue x;
    archive_.read("wall_seconds", x);
    state_.wall_seconds = x.toDouble();
    archive_.read("finished", x);
    state_.finished = x.toBool();
    // Older checkpoints come from runs without stage 0.
    state_.pretrained = archive_.try_read("pretrained", x) ? x.toBool() : true;
    // Older checkpoints come from single-process runs.
    state_.world_size = archive_.try_read("world_size", x) ? int(x.toInt()) : 1;
    read_stages();
    torch::serialize::InputArchive probe;
    has_optimizer_ = archive_.try_read("optimizer", probe);
  } catch (const Error&) {
    throw;
  } catch (const std::exception&) {
    fail("missing or malformed training state");
  }
}

c10::IValue CheckpointReader::value(const char* key) {
  c10::IValue v;
  archive_.read(key, v);
  return v;
}

void CheckpointReader::read_stages() {
  c10::IValue x;
  if (!archive_.try_read("stage_epochs", x)) return;  // an older checkpoint
  auto ints = [&](const char* key) { return value(key).toIntVector(); };
  auto doubles = [&](const char* key) { return value(key).toDoubleVector(); };
  const std::vector<int64_t> epochs = x.toIntVector();
  const auto reached = ints("stage_reached");
  const auto choice = ints("stage_choice");
  const auto peak = ints("stage_peak_rss");
  const auto counts = ints("stage_head_counts");
  const auto seconds = doubles("stage_seconds");
  const auto rate = doubles("stage_images_per_second");
  const auto top1 = doubles("stage_top1");
  // Older checkpoints hold stages 0..n-1 in order and no stage 0.
  std::vector<int64_t> ids;
  if (archive_.try_read("stage_ids", x)) ids = x.toIntVector();
  archive_.read("stage_heads", x);
  std::vector<std::string> heads;
  for (const auto& h : x.toListRef()) heads.push_back(h.toStringRef());
  const size_t n = epochs.size();
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  if (reached.size() != n || choice.size() != n || peak.size() != n ||
      counts.size() != n || seconds.size() != n || rate.size() != n ||
      heads.size() != size_t(total) || top1.size() != size_t(total) ||
      (!ids.empty() && ids.size() != n)) {
    fail("inconsistent stage records");
  }
  size_t h = 0;
  for (size_t i = 0; i < n; ++i) {
    StageReport s;
    s.stage = ids.empty() ? int(i) : int(ids[i]);
    s.epochs = int(epochs[i]);
    s.reached_target = reached[i] != 0;
    s.trunk_choice = int(choice[i]);
    s.peak_rss_bytes = peak[i];
    s.seconds = seconds[i];
    s.images_per_second = rate[i];
    for (int64_t k = 0; k < counts[i]; ++k, ++h) {
      s.heads.push_back(heads[h]);
      s.top1.push_back(top1[h]);
    }
    state_.stages.push_back(s);
  }
  archive_.read("current_stage_seconds", x);
  state_.stage_seconds = x.toDouble();
  archive_.read("current_stage_peak_rss", x);
  state_.stage_peak_rss_bytes = x.toInt();
}

void CheckpointReader::restore_model(torch::nn::Module& model) {
  torch::serialize::InputArchive weights;
  try {
    archive_.read("model", weights);
  } catch (const std::exception&) {
    fail("holds no model weights");
  }
  try {
    operators::load_weights_checked(model, weights);
  } catch (const DataError& e) {
    fail(e.what());
  } catch (const std::exception& e) {
    const std::string what = e.what();
    fail("model weights do not load: " + what.substr(0, what.find('\n')));
  }
}

void CheckpointReader::restore_optimizer(TrainingOptimizer& optimizer) {
  if (!has_optimizer_) fail("holds no optimizer state");
  torch::serialize::InputArchive opt;
  try {
    archive_.read("optimizer", opt);
    optimizer.load(opt);
  } catch (const Error& e) {
    fail(e.what());
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    fail("optimizer state does not fit: " + what.substr(0, what.find('\n')));
  } catch (const std::exception& e) {
    std::string what = e.what();
    fail("optimizer state does not fit: " + what.substr(0, what.find('\n')));
  }
}

void CheckpointReader::restore_rng() {
  torch::Tensor state;
  try {
    archive_.read("rng", state, /*is_buffer=*/true);
    state = state.cpu();  // read onto the run's device with the rest
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
  } catch (const std::exception&) {
    fail("malformed random generator state");
  }
}

void CheckpointReader::fail(const std::string& what) const {
  throw DataError("checkpoint " + path_ + ": " + what);
}

}  // namespace adascale::training
