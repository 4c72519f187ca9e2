#pragma once
/// Small helpers shared by the dataset readers.

#include <string>
#include <vector>

namespace adascale::datasets {

/// Reads a whole binary file; throws DataError naming the file when missing
/// or unreadable.
std::vector<unsigned char> read_binary_file(const std::string& path);

/// Reads non-empty lines of a text file (trailing '\r' and blanks trimmed).
std::vector<std::string> read_text_lines(const std::string& path);

}  // namespace adascale::datasets
