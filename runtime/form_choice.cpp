#include "runtime/form_choice.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/order_statistics.h"

namespace adascale::runtime {

std::string to_string(Form form) {
  switch (form) {
    case Form::kEager:
      return "eager";
    case Form::kOptimized:
      return "optimized";
    case Form::kInt8:
      return "int8";
    case Form::kXnnpack:
      return "xnnpack";
  }
  return "?";
}

Form parse_form(const std::string& text) {
  if (text == "eager") return Form::kEager;
  if (text == "optimized") return Form::kOptimized;
  if (text == "int8") return Form::kInt8;
  if (text == "xnnpack") return Form::kXnnpack;
  throw DataError("form '" + text +
                  "' is not one of eager, optimized, int8, xnnpack");
}

std::string to_string(FormRule rule) {
  switch (rule) {
    case FormRule::kMode:
      return "mode";
    case FormRule::kFallback:
      return "fallback";
    case FormRule::kCache:
      return "cache";
    case FormRule::kSignificant:
      return "significant";
    case FormRule::kDefault:
      return "default";
  }
  return "?";
}

FormRule parse_form_rule(const std::string& text) {
  for (FormRule r : {FormRule::kMode, FormRule::kFallback, FormRule::kCache,
                     FormRule::kSignificant, FormRule::kDefault}) {
    if (to_string(r) == text) return r;
  }
  throw DataError("form rule '" + text +
                  "' is not one of mode, fallback, cache, significant, "
                  "default");
}

void check(const FormChoiceOptions& options) {
  if (!(options.alpha > 0 && options.alpha < 1)) {
    throw UsageError(fmt::format("form choice alpha must be in (0, 1), got {}",
                                 options.alpha));
  }
  if (!(options.min_saving_ms >= 0)) {
    throw UsageError(
        fmt::format("form choice min_saving_ms must be >= 0, got {}",
                    options.min_saving_ms));
  }
  if (!(options.min_gain >= 0 && options.min_gain < 1)) {
    throw UsageError(fmt::format(
        "form choice min_gain must be in [0, 1), got {}", options.min_gain));
  }
}

double sign_test_p(int wins, int losses) {
  const int n = wins + losses;
  if (n <= 0 || wins <= 0) return 1;
  // Sum of binomial(n, k) / 2^n for k ≥ wins, in logs: n may be in the
  // hundreds, where 2^n overflows a double's exact range.
  double p = 0;
  for (int k = wins; k <= n; ++k) {
    p += std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) -
                  std::lgamma(n - k + 1.0) - n * std::log(2.0));
  }
  return std::min(1.0, p);
}

PairedComparison compare_paired(const std::vector<double>& form_ms,
                                const std::vector<double>& default_ms) {
  if (form_ms.size() != default_ms.size() || form_ms.empty()) {
    throw InternalError(
        fmt::format("paired timing needs equal, non-empty sample lists, got "
                    "{} and {}",
                    form_ms.size(), default_ms.size()));
  }
  PairedComparison c;
  std::vector<double> ratios, savings;
  for (size_t i = 0; i < form_ms.size(); ++i) {
    if (form_ms[i] < default_ms[i]) ++c.wins;
    if (form_ms[i] > default_ms[i]) ++c.losses;
    if (default_ms[i] > 0) ratios.push_back(form_ms[i] / default_ms[i]);
    savings.push_back(default_ms[i] - form_ms[i]);
  }
  c.p_value = sign_test_p(c.wins, c.losses);
  if (!ratios.empty()) c.gain = 1 - core::median(std::move(ratios));
  c.saving_ms = core::median(std::move(savings));
  return c;
}

FormChoice choose_form(const std::vector<double>& default_ms,
                       const std::vector<FormSamples>& alternatives,
                       const FormChoiceOptions& options) {
  check(options);
  auto convincing = [&](const PairedComparison& c) {
    return c.p_value < options.alpha && c.gain >= options.min_gain &&
           c.saving_ms >= options.min_saving_ms;
  };
  FormChoice choice;  // the optimised form by default
  bool challenged = false;
  const FormSamples* best = nullptr;
  PairedComparison best_vs_default;
  bool optimized_beats_all = !alternatives.empty();
  double weakest_p = 0, weakest_gain = 1;
  for (const FormSamples& alt : alternatives) {
    PairedComparison c = compare_paired(alt.ms, default_ms);
    if (convincing(c) && (!best || c.gain > best_vs_default.gain)) {
      best = &alt;
      best_vs_default = c;
    }
    // The default's own case against this alternative.
    PairedComparison back = compare_paired(default_ms, alt.ms);
    optimized_beats_all = optimized_beats_all && convincing(back);
    weakest_p = std::max(weakest_p, back.p_value);
    weakest_gain = std::min(weakest_gain, back.gain);
    // For kDefault, report the strongest challenger's evidence.
    if (!challenged || c.p_value < choice.p_value ||
        (c.p_value == choice.p_value && c.gain > choice.gain)) {
      challenged = true;
      choice.p_value = c.p_value;
      choice.gain = c.gain;
    }
  }
  if (best) {
    choice.form = best->form;
    choice.rule = FormRule::kSignificant;
    choice.p_value = best_vs_default.p_value;
    choice.gain = best_vs_default.gain;
    return choice;
  }
  choice.form = Form::kOptimized;
  if (optimized_beats_all) {
    choice.rule = FormRule::kSignificant;
    choice.p_value = weakest_p;
    choice.gain = weakest_gain;
  } else {
    choice.rule = FormRule::kDefault;
  }
  return choice;
}

ThreadChoice choose_threads(const ThreadSamples& default_samples,
                            const std::vector<ThreadSamples>& fewer,
                            const FormChoiceOptions& options) {
  check(options);
  ThreadChoice choice;
  choice.threads = default_samples.threads;
  bool found = false, challenged = false;
  for (const ThreadSamples& t : fewer) {
    const PairedComparison c = compare_paired(t.ms, default_samples.ms);
    const bool convincing = c.p_value < options.alpha &&
                            c.gain >= options.min_gain &&
                            c.saving_ms >= options.min_saving_ms;
    if (convincing && (!found || c.gain > choice.gain)) {
      found = true;
      choice.threads = t.threads;
      choice.rule = FormRule::kSignificant;
      choice.p_value = c.p_value;
      choice.gain = c.gain;
    } else if (!found && (!challenged || c.p_value < choice.p_value)) {
      // kDefault reports the strongest challenger's evidence.
      challenged = true;
      choice.p_value = c.p_value;
      choice.gain = c.gain;
    }
  }
  return choice;
}

}  // namespace adascale::runtime
