#pragma once
/// Bounds for tests of threads. No test asserts how long something takes
/// (on a busy machine such bounds fail); these limits only turn a hang into
/// a failed test instead of a hung suite.

#include <chrono>
#include <future>
#include <memory>
#include <thread>

namespace adascale::testing {

/// Long enough that only a hang reaches it.
constexpr std::chrono::milliseconds kHangLimit{30'000};

/// Polls `done` every millisecond until it holds; false after `limit`.
template <typename F>
bool eventually(F done, std::chrono::milliseconds limit = kHangLimit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// Runs `f` on a thread of its own; false when it has not returned within
/// `limit`. The thread is then left running, so whatever `f` uses must be
/// leaked by the caller: the test fails instead of hanging.
template <typename F>
bool returns_within(F f, std::chrono::milliseconds limit = kHangLimit) {
  auto returned = std::make_shared<std::promise<void>>();
  std::future<void> done = returned->get_future();
  std::thread([f = std::move(f), returned]() mutable {
    f();
    returned->set_value();
  }).detach();
  return done.wait_for(limit) == std::future_status::ready;
}

}  // namespace adascale::testing
