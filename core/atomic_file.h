#pragma once
/// Crash-safe file replacement: write a temp file beside the target, fsync
/// it, rename it over the target, fsync the directory. A reader sees the old
/// file or the new one, never a torn one.

#include <string>
#include <string_view>

namespace adascale::core {

/// Atomically replaces `path` with `contents`. Throws IoError.
void write_file_atomic(const std::string& path, std::string_view contents);

/// Reads a whole file. Throws IoError naming the file.
std::string read_file(const std::string& path);

}  // namespace adascale::core
