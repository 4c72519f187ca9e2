#pragma once
/// The adaptive inference engine (paper §IV, DESIGN §3.5): one elastic net
/// loaded once, every variant a chain of shared blocks, the running variant
/// an atomic index that another thread may change at any time.
///
/// At construction every block (the stem, each stage candidate, each exit
/// head) is traced to TorchScript and optimised for inference once: BN
/// folded into the convolutions, convolutions prepacked for MKL-DNN, and on
/// the CPU a second optimised form prepacked for XNNPACK. With
/// int8 precision each block also gets a post-training int8 form
/// (runtime/int8_quantizer.h), calibrated on the images given. Each block
/// keeps one form, and only that copy of its weights: memory holds one copy
/// of each block however many variants share it. Which form is decided by
/// runtime/form_choice.h (the optimised form unless another is faster on
/// strong paired evidence), once per machine when a form cache directory is
/// given (runtime/form_cache.h): a cached start times nothing.
///
/// Variants that run most are also *fused*: their blocks' graphs stitched
/// into one graph (runtime/graph_fusion.h) that shares the blocks'
/// constants, built ahead for the trunk of every exit and, on a worker
/// thread, for any variant that runs `fuse_after` times unfused, up to
/// `max_fused_variants`. Every other variant runs its chain of blocks, so a
/// variant switch still stores one integer: O(1), no allocation, no lock.
///
/// Input-adaptive early exit: with a confidence threshold τ > 0, a variant
/// ending at exit k stops a sample at an earlier exit j < k once the
/// softmax confidence of exit j's logits reaches τ; the rest of the batch
/// continues (through the chain of blocks: a fused graph has no earlier
/// exit to stop at).

#include <torch/script.h>
#include <torch/torch.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/variant.h"
#include "operators/elastic_net.h"
#include "runtime/form_cache.h"
#include "runtime/form_choice.h"

namespace adascale::runtime {

/// Which form of each block the engine runs.
enum class BlockMode {
  kFastest,    ///< the form_choice.h rule over the forms built (default)
  kEager,      ///< the C++ modules as trained (reference; no tracing)
  kOptimized,  ///< always the traced, frozen, optimised form
};

/// Parses "fastest" | "eager" | "optimized"; throws UsageError otherwise.
BlockMode parse_block_mode(const std::string& text);
std::string to_string(BlockMode mode);

/// The library the optimised blocks run on (the CPU only; elsewhere the
/// graphs are LibTorch's device kernels and this is ignored).
enum class Backend {
  kAuto,     ///< kFastest: the deepest trunk timed both ways; else oneDNN
  kOneDnn,   ///< oneDNN (MKL-DNN) prepacked convolutions, Form::kOptimized
  kXnnpack,  ///< XNNPACK prepacked operators, Form::kXnnpack
};

/// Parses "auto" | "onednn" | "xnnpack"; throws UsageError otherwise.
Backend parse_backend(const std::string& text);
std::string to_string(Backend backend);

/// The arithmetic blocks may run in.
enum class Precision {
  kFloat32,  ///< the trained weights as they are
  kInt8,     ///< int8 forms allowed where they stay within int8_tolerance
};

/// Parses "fp32" | "int8"; throws UsageError otherwise.
Precision parse_precision(const std::string& text);
std::string to_string(Precision precision);

/// How the engine is built. Aggregate-initialisable in this field order.
struct EngineOptions {
  BlockMode mode = BlockMode::kFastest;
  /// Paired timing rounds per block when choosing its form (after 3
  /// warm-up rounds); each round times every form once.
  int timing_repeats = 21;
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
  /// The thresholds of the form-choice rule (kFastest).
  FormChoiceOptions choice = {};
  /// Directory of the form cache; "" = decide at every start. Decisions are
  /// stored per machine, LibTorch build, thread count and settings, and
  /// checked against the weights (form_cache.h); bundles keep theirs in
  /// `<bundle>/engine_cache` (form_cache_dir()).
  std::string form_cache_dir = {};
  /// Fuse the trunk variant of every exit ahead, at construction.
  bool fuse_trunk = true;
  /// Fuse any other variant on a worker thread once it has run this many
  /// inferences unfused; 0 = only the trunk's.
  int fuse_after = 32;
  /// At most this many fused variants (the memory bound: each holds a graph
  /// and an executor plan, its weights shared with the blocks); 0 turns
  /// fusion off.
  int max_fused_variants = 16;
  /// kFastest: also time every block at fewer intra-op threads (half the
  /// engine's, a quarter, …, 1) and run each variant at the count its
  /// blocks are fastest at together, by choose_threads' rule (form_choice.h)
  /// over their paired rounds: small variants skip most of the cost of
  /// forking and joining parallel regions. Never more threads than
  /// set_threads allows.
  bool choose_threads = true;
  /// The optimised blocks' library, on the CPU in fp32 (int8 blocks and
  /// other devices use oneDNN's graphs). kAuto in kFastest times the
  /// deepest trunk variant whole both ways in paired rounds, and XNNPACK
  /// replaces oneDNN for every block only by the form-choice rule (p <
  /// alpha, gain and saving large enough). One backend for the whole
  /// engine, not a choice per block: XNNPACK's pthreadpool and OpenMP's
  /// team both spin after a call, and alternating between them on every
  /// block made each wait on the other (a 0.07 ms stem read 3-4 ms).
  Backend backend = Backend::kAuto;
};

/// Where a bundle directory keeps its engines' form caches.
std::string form_cache_dir(const std::string& bundle_dir);

/// How one block was prepared (for `inspect`, logs and the benchmark).
struct BlockReport {
  std::string name;          ///< "stem", "stage2/ghost", "exit2"
  double eager_ms = 0;       ///< batch-1 median; 0 when not timed
  double optimized_ms = 0;   ///< batch-1 median; 0 when not built
  double int8_ms = 0;        ///< batch-1 median; 0 when not built
  double xnnpack_ms = 0;     ///< batch-1 median; 0 when not built
  double int8_error = 0;     ///< relative L2 error on calibration; 0 if none
  bool optimized = false;    ///< the form the engine runs is traced
  bool int8 = false;         ///< … and int8
  bool mkldnn_in = false;    ///< it takes MKL-DNN-layout input
  Form form = Form::kEager;  ///< the form it runs
  FormRule rule = FormRule::kMode;        ///< what decided it at this start
  FormRule decided_by = FormRule::kMode;  ///< kCache: the stored rule
  double p_value = 1;                     ///< the decision's evidence
  double gain = 0;                        ///< (form_choice.h FormChoice)
  /// The running form's median at each of AdaptiveEngine::thread_counts()
  /// (empty when not timed).
  std::vector<double> threads_ms;
};

/// How the engine started (for logs and the benchmark).
struct StartupReport {
  double build_s = 0;      ///< construction, fused forms warmed up included
  double timing_s = 0;     ///< of which choosing forms by timing
  double fusing_s = 0;     ///< of which fusing the trunk's variants
  std::string cache_path;  ///< "" when no cache directory was given
  FormCacheStatus cache = FormCacheStatus::kMissing;
  std::string cache_reason;    ///< why it was not used, when it was not
  bool cache_written = false;  ///< decisions stored for the next start
  /// The backend of the optimised blocks: Form::kOptimized (oneDNN) or
  /// Form::kXnnpack, and what decided it (kMode: the options; kCache: the
  /// stored block forms; kSignificant / kDefault: the trunk timing).
  Form backend = Form::kOptimized;
  FormRule backend_rule = FormRule::kMode;
  double backend_p_value = 1;  ///< of the trunk timing (choose_form)
  double backend_gain = 0;
  double trunk_onednn_ms = 0;  ///< the trunk's medians; 0 when not timed
  double trunk_xnnpack_ms = 0;
};

/// One fused variant.
struct FusedReport {
  size_t variant = 0;       ///< index into AdaptiveEngine::variants()
  std::string id;           ///< its text form, "e2:basic.basic"
  bool ahead = false;       ///< built at construction (a trunk variant)
  double build_ms = 0;      ///< stitching, checking and warming it up
  int64_t extra_bytes = 0;  ///< constants not shared with its blocks
  double max_abs_diff = 0;  ///< its logits against the chain of blocks
};

/// One inference.
struct InferenceResult {
  torch::Tensor logits;    ///< N × classes
  size_t variant = 0;      ///< index into AdaptiveEngine::variants()
  int exit = 0;            ///< deepest exit any sample took (0-based)
  std::vector<int> exits;  ///< the exit each sample took (0-based)
  double latency_ms = 0;   ///< wall time of the whole call
  int threads = 0;         ///< intra-op threads it ran at (threads_of, capped)
};

class AdaptiveEngine {
 public:
  /// Takes over `net` (trained weights; it is switched to eval mode and its
  /// parameters stop requiring gradients). Throws ConfigError when a block
  /// cannot be traced and the mode is kOptimized, UsageError on bad
  /// options (int8 without calibration images or with the eager mode).
  AdaptiveEngine(operators::ElasticNet net, const EngineOptions& options = {});
  /// Stops the fusion worker (a fusion in progress finishes first).
  ~AdaptiveEngine();
  AdaptiveEngine(const AdaptiveEngine&) = delete;
  AdaptiveEngine& operator=(const AdaptiveEngine&) = delete;

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

  /// Intra-op threads inference may use, ≥ 1 (0 = the count at
  /// construction); a variant that runs faster on fewer (threads_of) uses
  /// fewer. Safe while inferring: each inferring thread applies a change
  /// at the start of its next call (LibTorch's OpenMP thread count is per
  /// calling thread), and infer() gives the calling thread its own
  /// settings back when it returns. Under background load fewer threads than
  /// cores avoid waiting at every parallel region for a descheduled worker.
  void set_threads(int threads);
  int threads() const { return threads_.load(std::memory_order_acquire); }
  /// The intra-op thread counts blocks were timed at: the count at
  /// construction first, then fewer (just the first without
  /// choose_threads, and in the eager and optimized modes).
  const std::vector<int>& thread_counts() const { return thread_counts_; }
  /// The thread count `variant` runs at when set_threads allows it, and
  /// the evidence (kDefault: the count at construction).
  const ThreadChoice& thread_choice(size_t variant) const;
  int threads_of(size_t variant) const {
    return thread_choice(variant).threads;
  }

  /// Runs the active variant on a normalised N×C×H×W batch.
  InferenceResult infer(const torch::Tensor& batch) const;
  /// Runs variant `variant` (used by benchmarks and the static baseline).
  InferenceResult infer(const torch::Tensor& batch, size_t variant) const;
  /// Runs variant `variant` as its chain of blocks even when it is fused
  /// (the reference the fused form is checked against), at its threads.
  torch::Tensor infer_chained(const torch::Tensor& batch, size_t variant) const;

  /// Fuses `variant` now, on the calling thread, unless it already is.
  /// Returns false, changing nothing, when the bound max_fused_variants is
  /// reached, fusion is off, or one of its blocks runs eager. Safe while
  /// other threads infer: they pick the fused form up at their next call.
  bool fuse(size_t variant);
  /// Whether `variant` runs fused.
  bool fused(size_t variant) const;
  /// Blocks until the worker has no fusion queued or running (tests,
  /// benchmarks).
  void wait_for_fusions() const;
  /// Every fused variant so far, in the order they were fused.
  std::vector<FusedReport> fused_variants() const;

  const std::vector<BlockReport>& blocks() const { return reports_; }
  const StartupReport& startup() const { return startup_; }
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
    bool mkldnn_out = false;
    /// An XNNPACK graph: it is given channels-last input (its convolutions
    /// return their input's layout, so the chain stays channels-last).
    bool channels_last_in = false;
    size_t id = 0;  ///< index into reports_ and decisions_
    torch::Tensor run(const torch::Tensor& x) const;
  };

  /// A fused variant: one graph, dense in and out.
  struct Fused {
    torch::jit::Module module;
    torch::Tensor run(const torch::Tensor& x) const;
  };

  Block prepare(const std::string& name, std::shared_ptr<torch::nn::Module> m,
                std::function<torch::Tensor(const torch::Tensor&)> forward,
                const torch::Tensor& example,
                const std::vector<torch::Tensor>& calibration,
                const EngineOptions& options, const CachedForm* cached);
  std::vector<const Block*> chain_of(const core::Variant& variant) const;
  torch::Tensor run_chain(const torch::Tensor& x,
                          const core::Variant& variant) const;
  bool fuse_locked(size_t variant, bool ahead);
  /// Times the deepest trunk variant whole on oneDNN and on XNNPACK and
  /// sets backend_ and startup_'s backend fields.
  void choose_backend(operators::ElasticNet& net, const EngineOptions& options);
  /// Chooses every variant's thread count from its blocks' timings.
  void choose_variant_threads(const FormChoiceOptions& options);
  /// Sets the calling thread's intra-op count for running `variant`;
  /// returns it.
  int apply_threads(size_t variant) const;
  void note_unfused(size_t variant) const;
  void fusion_worker();

  core::VariantSpace space_;
  std::vector<core::Variant> variants_;
  std::unordered_map<uint64_t, size_t> index_of_key_;
  Block stem_;
  std::vector<std::vector<Block>> stages_;  ///< [stage][candidate]
  std::vector<Block> exits_;                ///< [stage]
  std::vector<BlockReport> reports_;
  std::vector<CachedForm> decisions_;  ///< what the form cache stores
  std::vector<int> thread_counts_;     ///< descending; [0] at construction
  std::vector<ThreadChoice> variant_threads_;  ///< [variant]
  StartupReport startup_;
  int64_t weight_bytes_ = 0;
  torch::Device device_{torch::kCPU};
  Form backend_ = Form::kOptimized;  ///< see StartupReport::backend
  torch::Tensor example_;  ///< batch-1 input fused forms are checked on
  std::atomic<size_t> active_{0};
  std::atomic<double> threshold_{0};
  std::atomic<int> threads_{0};

  // Fusion. A fused form, once published in fused_[variant], lives as long
  // as the engine: readers load the pointer without a lock.
  int max_fused_ = 0;
  int fuse_after_ = 0;
  std::unique_ptr<std::atomic<const Fused*>[]> fused_;
  std::unique_ptr<std::atomic<int>[]> unfused_runs_;
  mutable std::mutex fuse_mutex_;  ///< guards the members below
  std::deque<std::unique_ptr<Fused>> fused_store_;
  std::vector<FusedReport> fused_reports_;
  mutable std::mutex queue_mutex_;  ///< guards the queue and the flags
  mutable std::condition_variable queue_cv_;
  mutable std::deque<size_t> queue_;
  mutable bool fusing_ = false;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace adascale::runtime
