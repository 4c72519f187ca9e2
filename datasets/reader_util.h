#pragma once
/// Small helpers shared by the dataset readers.

#include <string>
#include <vector>

namespace adascale::datasets {

/// Reads a whole binary file; throws DataError naming the file when missing,
/// not a regular file (e.g. a directory) or unreadable.
std::vector<unsigned char> read_binary_file(const std::string& path);

/// Reads non-empty lines of a text file (trailing '\r' and blanks trimmed);
/// throws DataError naming the file when missing, not a regular file or
/// unreadable.
std::vector<std::string> read_text_lines(const std::string& path);

/// Throws DataError naming `path` and `what` (e.g. "CIFAR-10 dataset
/// directory") unless `path` is an existing directory.
void require_directory(const std::string& path, const std::string& what);

/// Throws DataError naming `path` and `what` unless `path` is an existing
/// regular file (or a link to one).
void require_file(const std::string& path, const std::string& what);

}  // namespace adascale::datasets
