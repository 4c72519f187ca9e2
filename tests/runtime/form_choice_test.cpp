#include "runtime/form_choice.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"

namespace adascale::runtime {
namespace {

// `n` rounds of a form that takes `ms`, with `bursts` rounds (the first
// ones, as at a busy start-up) taking `burst_ms` instead.
std::vector<double> rounds(int n, double ms, int bursts = 0,
                           double burst_ms = 0) {
  std::vector<double> v(size_t(n), ms);
  for (int i = 0; i < bursts && i < n; ++i) v[size_t(i)] = burst_ms;
  return v;
}

// Adds a small alternating wobble so rounds are not all tied.
std::vector<double> wobble(std::vector<double> v, double amount) {
  for (size_t i = 0; i < v.size(); ++i) v[i] += i % 2 ? amount : -amount;
  return v;
}

TEST(FormChoice, SignTestMatchesTheBinomialTail) {
  EXPECT_DOUBLE_EQ(sign_test_p(15, 0), 1.0 / 32768);
  EXPECT_NEAR(sign_test_p(13, 2), 121.0 / 32768, 1e-12);
  EXPECT_NEAR(sign_test_p(12, 3), 576.0 / 32768, 1e-12);
  EXPECT_DOUBLE_EQ(sign_test_p(0, 10), 1.0);
  EXPECT_DOUBLE_EQ(sign_test_p(0, 0), 1.0);
  EXPECT_NEAR(sign_test_p(1, 1), 0.75, 1e-12);
  // Large n stays finite and tiny.
  EXPECT_GT(sign_test_p(400, 0), 0.0);
  EXPECT_LT(sign_test_p(400, 0), 1e-100);
}

TEST(FormChoice, PairedComparisonCountsRoundsAndTakesTheMedianGain) {
  PairedComparison c = compare_paired({1, 1, 3, 0.5, 2}, {2, 2, 2, 1, 2});
  EXPECT_EQ(c.wins, 3);    // rounds 0, 1, 3
  EXPECT_EQ(c.losses, 1);  // round 2; round 4 is a tie
  EXPECT_NEAR(c.p_value, sign_test_p(3, 1), 1e-12);
  // ratios 0.5, 0.5, 1.5, 0.5, 1 → median 0.5
  EXPECT_DOUBLE_EQ(c.gain, 0.5);
  EXPECT_THROW(compare_paired({1, 2}, {1}), InternalError);
  EXPECT_THROW(compare_paired({}, {}), InternalError);
}

TEST(FormChoice, ClearlyFasterEagerWins) {
  FormChoice c = choose_form(wobble(rounds(21, 1.0), 0.01),
                             {{Form::kEager, wobble(rounds(21, 0.7), 0.01)}});
  EXPECT_EQ(c.form, Form::kEager);
  EXPECT_EQ(c.rule, FormRule::kSignificant);
  EXPECT_LT(c.p_value, 1e-5);
  EXPECT_NEAR(c.gain, 0.3, 0.02);
}

TEST(FormChoice, ClearlyFasterOptimizedIsSignificantNotDefault) {
  FormChoice c = choose_form(rounds(21, 0.5), {{Form::kEager, rounds(21, 1)}});
  EXPECT_EQ(c.form, Form::kOptimized);
  EXPECT_EQ(c.rule, FormRule::kSignificant);
  EXPECT_NEAR(c.gain, 0.5, 1e-12);
}

// The failure: load at start-up slows whichever form is being
// timed when it hits. Here it hits the optimised form in the first 8 of 21
// rounds (3× slower), making eager look faster by median-of-each-form's
// reckoning in a third of the rounds; the rule keeps the optimised form.
TEST(FormChoice, AStartUpBurstCannotFlipTheDefault) {
  std::vector<double> optimized = wobble(rounds(21, 0.5, 8, 1.5), 0.01);
  std::vector<double> eager = wobble(rounds(21, 0.8), 0.01);
  FormChoice c = choose_form(optimized, {{Form::kEager, eager}});
  EXPECT_EQ(c.form, Form::kOptimized);
  EXPECT_EQ(c.rule, FormRule::kDefault);  // 13 of 21: not significant
  EXPECT_GT(c.p_value, 0.01);
}

TEST(FormChoice, ASmallConsistentGainIsNotWorthLeavingTheDefault) {
  // Eager 2% faster in every round: significant, but under min_gain.
  FormChoice c =
      choose_form(rounds(21, 1.0), {{Form::kEager, rounds(21, 0.98)}});
  EXPECT_EQ(c.form, Form::kOptimized);
  EXPECT_EQ(c.rule, FormRule::kDefault);
  EXPECT_LT(c.p_value, 0.01);
  EXPECT_NEAR(c.gain, 0.02, 1e-9);
  // With min_gain 0 (and no absolute floor) the same evidence is enough.
  FormChoiceOptions eager_on_any_gain;
  eager_on_any_gain.min_gain = 0;
  eager_on_any_gain.min_saving_ms = 0;
  EXPECT_EQ(choose_form(rounds(21, 1.0), {{Form::kEager, rounds(21, 0.98)}},
                        eager_on_any_gain)
                .form,
            Form::kEager);
}

// An exit head of 7 µs: eager 10% faster in every round, significant and
// over min_gain, but 0.7 µs a call is less than fusing it saves.
TEST(FormChoice, ATinyAbsoluteSavingKeepsTheDefault) {
  FormChoice c =
      choose_form(rounds(21, 0.007), {{Form::kEager, rounds(21, 0.0063)}});
  EXPECT_EQ(c.form, Form::kOptimized);
  EXPECT_EQ(c.rule, FormRule::kDefault);
  EXPECT_LT(c.p_value, 0.01);
  // The same relative gain on a 0.7 ms block is worth it.
  EXPECT_EQ(
      choose_form(rounds(21, 0.7), {{Form::kEager, rounds(21, 0.63)}}).form,
      Form::kEager);
  FormChoiceOptions bad;
  bad.min_saving_ms = -1;
  EXPECT_THROW(choose_form(rounds(3, 1), {}, bad), UsageError);
}

TEST(FormChoice, TiesAndNoiseKeepTheDefault) {
  FormChoice tie =
      choose_form(rounds(21, 1.0), {{Form::kEager, rounds(21, 1.0)}});
  EXPECT_EQ(tie.form, Form::kOptimized);
  EXPECT_EQ(tie.rule, FormRule::kDefault);
  EXPECT_DOUBLE_EQ(tie.p_value, 1.0);
  // Alternating winners: half the rounds each way.
  FormChoice noise =
      choose_form(wobble(rounds(20, 1.0), 0.1),
                  {{Form::kEager, wobble(rounds(20, 1.0), -0.1)}});
  EXPECT_EQ(noise.form, Form::kOptimized);
  EXPECT_EQ(noise.rule, FormRule::kDefault);
  // Too few rounds can never be significant at alpha = 0.01.
  FormChoice few =
      choose_form(rounds(5, 1.0), {{Form::kEager, rounds(5, 0.1)}});
  EXPECT_EQ(few.form, Form::kOptimized);
  EXPECT_EQ(few.rule, FormRule::kDefault);
  // Nothing to compare with.
  FormChoice alone = choose_form(rounds(3, 1.0), {});
  EXPECT_EQ(alone.form, Form::kOptimized);
  EXPECT_EQ(alone.rule, FormRule::kDefault);
}

TEST(FormChoice, TheLargerConvincingGainWinsAmongAlternatives) {
  FormChoice c = choose_form(rounds(21, 1.0), {{Form::kEager, rounds(21, 0.8)},
                                               {Form::kInt8, rounds(21, 0.6)}});
  EXPECT_EQ(c.form, Form::kInt8);
  EXPECT_EQ(c.rule, FormRule::kSignificant);
  EXPECT_NEAR(c.gain, 0.4, 1e-9);
  // int8 only slightly faster than the default: eager's larger gain wins.
  FormChoice d = choose_form(
      rounds(21, 1.0),
      {{Form::kEager, rounds(21, 0.8)}, {Form::kInt8, rounds(21, 0.99)}});
  EXPECT_EQ(d.form, Form::kEager);
}

TEST(ThreadChoice, FewerThreadsWinOnlyOnConvincingEvidence) {
  // 1 thread 20% and 0.08 ms faster in every round: chosen.
  ThreadChoice one =
      choose_threads({2, rounds(21, 0.4)}, {{1, rounds(21, 0.32)}});
  EXPECT_EQ(one.threads, 1);
  EXPECT_EQ(one.rule, FormRule::kSignificant);
  EXPECT_LT(one.p_value, 0.01);
  EXPECT_NEAR(one.gain, 0.2, 1e-9);
  // A big variant is faster on all threads: the default stands, with the
  // challenger's (losing) evidence reported.
  ThreadChoice all =
      choose_threads({2, rounds(21, 1.4)}, {{1, rounds(21, 2.4)}});
  EXPECT_EQ(all.threads, 2);
  EXPECT_EQ(all.rule, FormRule::kDefault);
  EXPECT_LT(all.gain, 0);
  // A burst over the first rounds cannot decide it, nor a tiny saving.
  EXPECT_EQ(choose_threads({2, rounds(21, 0.4, 8, 5.0)}, {{1, rounds(21, 0.6)}})
                .threads,
            2);
  EXPECT_EQ(
      choose_threads({2, rounds(21, 0.04)}, {{1, rounds(21, 0.03)}}).threads,
      2);
  // Alternating winners: no evidence either way.
  EXPECT_EQ(choose_threads({4, wobble(rounds(20, 1.0), 0.1)},
                           {{2, wobble(rounds(20, 1.0), -0.1)}})
                .threads,
            4);
}

TEST(ThreadChoice, TheLargestConvincingGainAmongFewerCounts) {
  ThreadChoice c = choose_threads(
      {8, rounds(21, 1.0)},
      {{4, rounds(21, 0.7)}, {2, rounds(21, 0.6)}, {1, rounds(21, 0.9)}});
  EXPECT_EQ(c.threads, 2);
  EXPECT_NEAR(c.gain, 0.4, 1e-9);
  EXPECT_EQ(choose_threads({1, rounds(21, 1.0)}, {}).threads, 1);
  FormChoiceOptions bad;
  bad.alpha = 0;
  EXPECT_THROW(choose_threads({2, rounds(3, 1)}, {}, bad), UsageError);
}

TEST(FormChoice, BadOptionsAndNamesAreRefused) {
  FormChoiceOptions bad;
  bad.alpha = 0;
  EXPECT_THROW(choose_form(rounds(3, 1), {}, bad), UsageError);
  bad.alpha = 0.01;
  bad.min_gain = 1;
  EXPECT_THROW(check(bad), UsageError);
  EXPECT_THROW(choose_form(rounds(3, 1), {{Form::kEager, rounds(2, 1)}}),
               InternalError);
  for (Form f : {Form::kEager, Form::kOptimized, Form::kInt8}) {
    EXPECT_EQ(parse_form(to_string(f)), f);
  }
  for (FormRule r : {FormRule::kMode, FormRule::kFallback, FormRule::kCache,
                     FormRule::kSignificant, FormRule::kDefault}) {
    EXPECT_EQ(parse_form_rule(to_string(r)), r);
  }
  EXPECT_THROW(parse_form("fp16"), DataError);
  EXPECT_THROW(parse_form_rule("vibes"), DataError);
}

}  // namespace
}  // namespace adascale::runtime
