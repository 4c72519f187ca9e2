#pragma once
/// The engine's form cache: which form each block runs, decided
/// once per machine and stored, so that a start-up under a burst of load
/// reuses the decision measured earlier instead of timing again, and a
/// cached start skips the timing altogether.
///
/// A cache file holds one decision per block, the conditions it holds for
/// (the machine, the LibTorch build, the engine settings that change a
/// decision, and a fingerprint of the weights: the bundle's identity) and
/// the SHA-256 of everything above its last line. The file for a machine
/// and settings is named by a hash of those, so machines sharing a bundle
/// directory keep one file each. A file whose checksum, format, conditions
/// or block list do not match is never trusted: the engine times the
/// blocks again and rewrites it (atomically, core/atomic_file.h).

#include <torch/torch.h>

#include <string>
#include <vector>

#include "runtime/form_choice.h"

namespace adascale::runtime {

/// The first line of every form cache file.
inline constexpr const char* kFormCacheFormat = "adascale-engine-forms 4";

/// One block's stored decision and the evidence it rested on.
struct CachedForm {
  std::string block;                   ///< "stem", "stage2/ghost", "exit2"
  Form form = Form::kOptimized;        ///< the form it runs
  FormRule rule = FormRule::kDefault;  ///< the rule that decided it
  double eager_ms = 0;                 ///< medians when timed (0 if not)
  double optimized_ms = 0;
  double int8_ms = 0;
  double xnnpack_ms = 0;
  double p_value = 1;  ///< see FormChoice
  double gain = 0;
  /// The chosen form's per-round times at each thread count timed (the
  /// engine's first, then fewer): what variants' thread counts are chosen
  /// from (form_choice.h choose_threads). Empty when not timed.
  std::vector<ThreadSamples> threads;
};

/// The conditions a set of decisions holds for.
struct FormCacheKey {
  std::string machine;   ///< machine_description()
  std::string settings;  ///< engine settings that change a decision
  std::string weights;   ///< weights_fingerprint() of the net
};

/// This machine and LibTorch build, as one line: CPU model, logical CPUs,
/// host name, LibTorch version, a hash of LibTorch's build configuration
/// (its ISA level, oneDNN and BLAS) and the intra-op thread count the
/// decisions are timed at.
std::string machine_description(int threads);

/// SHA-256 over the name, dtype, shape and bytes of every parameter and
/// buffer of `module`: equal exactly when the weights are.
std::string weights_fingerprint(const torch::nn::Module& module);

/// The cache file for `key` in directory `dir`: `forms-<16 hex>.txt`, the
/// hex from the machine and settings (not the weights: a retrained bundle
/// overwrites its stale file instead of adding one).
std::string form_cache_path(const std::string& dir, const FormCacheKey& key);

/// What reading a cache file found.
enum class FormCacheStatus {
  kHit,      ///< valid, for these conditions and blocks
  kMissing,  ///< no file
  kStale,    ///< a valid file for other weights, settings or blocks
  kCorrupt,  ///< unreadable, truncated, edited or of another format
};

/// "hit" | "missing" | "stale" | "corrupt".
std::string to_string(FormCacheStatus status);

/// The decisions read, or why there are none.
struct FormCacheRead {
  FormCacheStatus status = FormCacheStatus::kMissing;
  std::vector<CachedForm> forms;  ///< set on kHit, in `blocks` order
  std::string reason;             ///< one line for the log otherwise
};

/// Reads `path` and checks it against `key` and the engine's `blocks`
/// (names, in order). Never throws on a bad file: that is kCorrupt.
FormCacheRead read_form_cache(const std::string& path, const FormCacheKey& key,
                              const std::vector<std::string>& blocks);

/// Writes `forms` for `key` to `path` atomically, making its directory.
/// Throws IoError naming the file.
void write_form_cache(const std::string& path, const FormCacheKey& key,
                      const std::vector<CachedForm>& forms);

}  // namespace adascale::runtime
