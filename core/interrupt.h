#pragma once
/// Ctrl-C for long runs: the first SIGINT (or SIGTERM) only raises a flag
/// that training loops poll, so they can checkpoint and exit cleanly; a
/// second one ends the process the usual way.

namespace adascale::core {

/// Installs the handlers (idempotent).
void install_interrupt_handler();

/// True once SIGINT or SIGTERM arrived after install_interrupt_handler().
bool interrupt_requested();

/// Raises the flag as a signal would (tests, embedding applications).
void request_interrupt();

/// Lowers the flag and re-arms the handlers.
void clear_interrupt();

}  // namespace adascale::core
