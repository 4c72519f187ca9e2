#pragma once
/// The rule that picks the form each engine block runs: eager,
/// the frozen and optimised float graph (oneDNN), the same graph on
/// XNNPACK, or int8.
///
/// The optimised form is the default: it does strictly less work than the
/// eager modules (BN folded, weights prepacked), so when it measures slower
/// that is nearly always the machine, not the form. Another form replaces
/// it only on strong evidence, measured in paired rounds (every round times
/// each form once, back to back): a one-sided sign test over the rounds
/// must give p < alpha *and* the median of the per-round time ratios must
/// show a gain of at least min_gain. A burst of load lands on a few rounds
/// and on both forms of each round alike, so it can flip a few signs but
/// not the decision; with weak evidence the default stands.

#include <string>
#include <vector>

namespace adascale::runtime {

/// A form a block can run in.
enum class Form {
  kEager,      ///< the C++ modules as trained
  kOptimized,  ///< traced, frozen, BN folded, MKL-DNN prepacked
  kInt8,       ///< post-training int8 graph
  /// Traced, frozen, BN folded, convolutions and linears prepacked for
  /// XNNPACK (LibTorch's optimize_for_mobile passes), channels-last
  /// activations. At batch 1 on small maps XNNPACK's kernels and its
  /// spinning pthreadpool cost less per call than oneDNN's primitives.
  kXnnpack,
};

/// "eager" | "optimized" | "int8" | "xnnpack".
std::string to_string(Form form);
/// Parses to_string's output; throws DataError otherwise.
Form parse_form(const std::string& text);

/// Why a block runs the form it runs (reported per block).
enum class FormRule {
  kMode,         ///< the block mode fixed it (eager or optimized mode)
  kFallback,     ///< no other form could be built, so eager
  kCache,        ///< this machine's stored decision (form cache)
  kSignificant,  ///< measured faster than every other form, p < alpha
  kDefault,      ///< no form was significantly faster: the optimised one
};

/// "mode" | "fallback" | "cache" | "significant" | "default".
std::string to_string(FormRule rule);
/// Parses to_string's output; throws DataError otherwise.
FormRule parse_form_rule(const std::string& text);

/// The thresholds of the rule.
struct FormChoiceOptions {
  /// Largest one-sided sign-test p-value that counts as evidence.
  double alpha = 0.01;
  /// Smallest gain, 1 − median(form / default) over the rounds, for which
  /// a form displaces the default: a 1% win is not worth a surprise.
  double min_gain = 0.05;
  /// Smallest absolute saving per call, median over the rounds of
  /// default − form, in ms. A block that leaves the optimised form keeps
  /// every variant through it out of fusion (fused graphs are built from
  /// optimised blocks), and fusing saves about this much per block
  /// boundary; a 7% win on a 7 µs exit head is not worth that.
  double min_saving_ms = 0.02;
};

/// Throws UsageError naming the field when alpha ∉ (0, 1),
/// min_gain ∉ [0, 1) or min_saving_ms < 0.
void check(const FormChoiceOptions& options);

/// Batch-1 times of one form, one sample per round, the rounds shared with
/// the default form's samples (sample i of each form is from round i).
struct FormSamples {
  Form form = Form::kEager;
  std::vector<double> ms;
};

/// The decision and the evidence for it.
struct FormChoice {
  Form form = Form::kOptimized;
  FormRule rule = FormRule::kDefault;
  /// Sign-test p-value of the evidence: an alternative chosen, against
  /// the default; the default kept as kSignificant, the largest of its
  /// p-values against the alternatives; kDefault, the smallest p-value of
  /// an alternative against the default (1 when there is none).
  double p_value = 1;
  /// Median per-round gain, 1 − chosen/other, for the same pair as
  /// p_value (kDefault: the strongest challenger's gain over the default,
  /// which fell short; it may be negative).
  double gain = 0;
};

/// One-sided sign test: the probability of at least `wins` wins in
/// `wins + losses` fair coin tosses (ties are dropped before calling).
double sign_test_p(int wins, int losses);

/// Per-round comparison of `form_ms` against `default_ms` (equal sizes):
/// the sign test's p-value that `form` is faster, and the median gain
/// 1 − form/default. Throws InternalError on sizes that differ or are 0.
struct PairedComparison {
  int wins = 0, losses = 0;
  double p_value = 1;
  double gain = 0;
  double saving_ms = 0;  ///< median of default − form over the rounds
};
PairedComparison compare_paired(const std::vector<double>& form_ms,
                                const std::vector<double>& default_ms);

/// The rule above. `default_ms`: the optimised form's samples;
/// `alternatives`: the other forms built for the block (eager, int8,
/// xnnpack), each
/// with as many samples. Among the alternatives that beat the default with
/// p < alpha and gain ≥ min_gain, the one with the largest gain wins;
/// without any, the optimised form stays, as kSignificant when it beat
/// every alternative that way itself and kDefault otherwise.
FormChoice choose_form(const std::vector<double>& default_ms,
                       const std::vector<FormSamples>& alternatives,
                       const FormChoiceOptions& options = {});

/// A variant's intra-op thread count and the evidence for it. At batch 1 a
/// small variant runs faster on fewer threads than the engine has: a 3×3
/// depthwise convolution on 128 channels at 8×8 costs ~40 µs at 2 threads
/// and ~25 µs at 1 on the 2-core development VM, nearly all of it forking
/// and joining the parallel region, so exit 1 of the default net ran in
/// 0.37 ms at 1 thread against 0.43 ms at 2.
struct ThreadChoice {
  int threads = 0;  ///< the count chosen (the default: the engine's)
  FormRule rule = FormRule::kDefault;  ///< kSignificant when fewer won
  double p_value = 1;
  double gain = 0;
};

/// Batch-1 times of a variant at one thread count, one sample per round.
struct ThreadSamples {
  int threads = 0;
  std::vector<double> ms;
};

/// The rule of choose_form for thread counts: the engine's own count
/// (`default_samples`) stands unless a smaller count beats it with
/// p < alpha, gain ≥ min_gain and saving ≥ min_saving_ms; among those, the
/// largest gain wins. Samples are paired by round as in choose_form.
ThreadChoice choose_threads(const ThreadSamples& default_samples,
                            const std::vector<ThreadSamples>& fewer,
                            const FormChoiceOptions& options = {});

}  // namespace adascale::runtime
