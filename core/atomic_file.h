#pragma once
/// Crash-safe file replacement: write a temp file beside the target, fsync
/// it, rename it over the target, fsync the directory. A reader sees the old
/// file or the new one, never a torn one.

#include <string>
#include <string_view>

namespace adascale::core {

/// Atomically replaces `path` with `contents`. Throws IoError.
void write_file_atomic(const std::string& path, std::string_view contents);

/// Makes the missing directories above `path` (a file or directory to be
/// written). Throws IoError "<parent>: cannot create the directory: …".
void make_parent_directories(const std::string& path);

/// Reads a whole file. Throws IoError naming the file.
std::string read_file(const std::string& path);

}  // namespace adascale::core
