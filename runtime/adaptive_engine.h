#pragma once
/// The adaptive inference engine (paper §IV, DESIGN §3.5): one elastic net
/// loaded once, every variant a chain of shared blocks, the running variant
/// an atomic index that another thread may change at any time.
///
/// At construction every block (the stem, each stage candidate, each exit
/// head) is traced to TorchScript and optimised for inference once: BN
/// folded into the convolutions, convolutions prepacked for MKL-DNN. With
/// int8 precision each block also gets a post-training int8 form
/// (runtime/int8_quantizer.h), calibrated on the images given. Each block
/// keeps whichever of its forms measured fastest at batch 1, and only that
/// one: memory holds one copy of each block's weights however many
/// variants share it. A variant switch stores one
/// integer: O(1), no allocation, no lock.
///
/// Input-adaptive early exit: with a confidence threshold τ > 0, a variant
/// ending at exit k stops a sample at an earlier exit j < k once the
/// softmax confidence of exit j's logits reaches τ; the rest of the batch
/// continues.

#include <torch/script.h>
#include <torch/torch.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/variant.h"
#include "operators/elastic_net.h"

namespace adascale::runtime {

/// Which form of each block the engine runs.
enum class BlockMode {
  kFastest,    ///< time both at batch 1 and keep the faster (the default)
  kEager,      ///< the C++ modules as trained (reference; no tracing)
  kOptimized,  ///< always the traced, frozen, optimised form
};

/// Parses "fastest" | "eager" | "optimized"; throws UsageError otherwise.
BlockMode parse_block_mode(const std::string& text);
std::string to_string(BlockMode mode);

/// The arithmetic blocks may run in.
enum class Precision {
  kFloat32,  ///< the trained weights as they are
  kInt8,     ///< int8 forms allowed where they stay within int8_tolerance
};

/// Parses "fp32" | "int8"; throws UsageError otherwise.
Precision parse_precision(const std::string& text);
std::string to_string(Precision precision);

struct EngineOptions {
  BlockMode mode = BlockMode::kFastest;
  /// Timed runs per form and block when choosing (after 3 warm-ups).
  int timing_repeats = 15;
  /// Early-exit confidence τ in [0, 1]; 0 turns early exit off.
  double early_exit_threshold = 0;
  /// kInt8 adds each block's int8 form to those the mode chooses from
  /// (kFastest: the fastest form; kOptimized: int8 where it was built).
  Precision precision = Precision::kFloat32;
  /// For kInt8: normalised N×C×H×W images whose activations set the int8
  /// ranges. Use training or validation images, not the test split.
  torch::Tensor calibration = {};
  /// For kInt8: the largest relative L2 error of a block's int8 output
  /// against its float output on the calibration images; a block above it
  /// stays float.
  double int8_tolerance = 0.05;
};

/// How one block was prepared (for `inspect`, logs and the benchmark).
struct BlockReport {
  std::string name;         ///< "stem", "stage2/ghost", "exit2"
  double eager_ms = 0;      ///< batch-1 median; 0 when not timed
  double optimized_ms = 0;  ///< batch-1 median; 0 when not built
  double int8_ms = 0;       ///< batch-1 median; 0 when not built
  double int8_error = 0;    ///< relative L2 error on calibration; 0 if none
  bool optimized = false;   ///< the form the engine runs is traced
  bool int8 = false;        ///< … and int8
  bool mkldnn_in = false;   ///< it takes MKL-DNN-layout input
};

/// One inference.
struct InferenceResult {
  torch::Tensor logits;    ///< N × classes
  size_t variant = 0;      ///< index into AdaptiveEngine::variants()
  int exit = 0;            ///< deepest exit any sample took (0-based)
  std::vector<int> exits;  ///< the exit each sample took (0-based)
  double latency_ms = 0;   ///< wall time of the whole call
};

class AdaptiveEngine {
 public:
  /// Takes over `net` (trained weights; it is switched to eval mode and its
  /// parameters stop requiring gradients). Throws ConfigError when a block
  /// cannot be traced and the mode is kOptimized, UsageError on bad
  /// options (int8 without calibration images or with the eager mode).
  AdaptiveEngine(operators::ElasticNet net, const EngineOptions& options = {});

  /// Every variant, in packed-key order (core::VariantSpace::all()).
  const std::vector<core::Variant>& variants() const { return variants_; }
  const core::VariantSpace& space() const { return space_; }
  /// Index of a variant's packed key; throws UsageError when unknown.
  size_t index_of_key(uint64_t key) const;
  size_t index_of(const core::Variant& variant) const;

  /// Makes `variant` the one infer(batch) runs. O(1) and allocation-free;
  /// safe while other threads infer (a call in flight finishes on the
  /// variant it started with). Throws UsageError when out of range.
  void switch_to(size_t variant);
  size_t active() const { return active_.load(std::memory_order_acquire); }

  /// τ for early exit, in [0, 1] (0 = off); safe to change while inferring.
  void set_early_exit_threshold(double threshold);
  double early_exit_threshold() const {
    return threshold_.load(std::memory_order_acquire);
  }

  /// Intra-op threads inference should use, ≥ 1 (0 = leave LibTorch's
  /// setting alone). Safe while inferring: each inferring thread applies a
  /// change at the start of its next call (LibTorch's OpenMP thread count
  /// is per calling thread). Under background load fewer threads than
  /// cores avoid waiting at every parallel region for a descheduled worker.
  void set_threads(int threads);
  int threads() const { return threads_.load(std::memory_order_acquire); }

  /// Runs the active variant on a normalised N×C×H×W batch.
  InferenceResult infer(const torch::Tensor& batch) const;
  /// Runs variant `variant` (used by benchmarks and the static baseline).
  InferenceResult infer(const torch::Tensor& batch, size_t variant) const;

  const std::vector<BlockReport>& blocks() const { return reports_; }
  /// Bytes of the tensors the engine holds (eager parameters and buffers
  /// plus the optimised blocks' constants): one copy of each block.
  int64_t weight_bytes() const { return weight_bytes_; }
  torch::Device device() const { return device_; }

 private:
  /// One block in the form chosen for it.
  struct Block {
    std::shared_ptr<torch::nn::Module> eager;  ///< set when running eager
    std::function<torch::Tensor(const torch::Tensor&)> eager_forward;
    std::optional<torch::jit::Module> optimized;
    /// The optimised graph takes MKL-DNN tensors (and may return them).
    /// An int8 graph takes and returns dense float tensors.
    bool mkldnn_in = false;
    torch::Tensor run(const torch::Tensor& x) const;
  };

  Block prepare(const std::string& name, std::shared_ptr<torch::nn::Module> m,
                std::function<torch::Tensor(const torch::Tensor&)> forward,
                const torch::Tensor& example,
                const std::vector<torch::Tensor>& calibration,
                const EngineOptions& options);

  core::VariantSpace space_;
  std::vector<core::Variant> variants_;
  std::unordered_map<uint64_t, size_t> index_of_key_;
  Block stem_;
  std::vector<std::vector<Block>> stages_;  ///< [stage][candidate]
  std::vector<Block> exits_;                ///< [stage]
  std::vector<BlockReport> reports_;
  int64_t weight_bytes_ = 0;
  torch::Device device_{torch::kCPU};
  std::atomic<size_t> active_{0};
  std::atomic<double> threshold_{0};
  std::atomic<int> threads_{0};
};

}  // namespace adascale::runtime
