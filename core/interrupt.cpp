#include "core/interrupt.h"

#include <atomic>
#include <csignal>

namespace adascale::core {
namespace {

std::atomic<bool> g_requested{false};

extern "C" void on_signal(int signal) {
  g_requested.store(true);
  // The next one is not ours to soften.
  std::signal(signal, SIG_DFL);
}

}  // namespace

void install_interrupt_handler() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupt_requested() {
  return g_requested.load();
}

void request_interrupt() {
  g_requested.store(true);
}

void clear_interrupt() {
  g_requested.store(false);
  install_interrupt_handler();
}

}  // namespace adascale::core
