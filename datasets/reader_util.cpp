#include "datasets/reader_util.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"

namespace adascale::datasets {

namespace {

namespace fs = std::filesystem;

// The status of `path`; a missing path is a normal answer, any other failure
// (e.g. a permission error on a parent) is reported as such.
fs::file_status status_of(const std::string& path) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (status.type() == fs::file_type::none) {
    throw DataError(path + ": cannot access: " + ec.message());
  }
  return status;
}

// An ifstream happily "opens" a directory on Linux and then reports a bogus
// size, so anything that is not a regular file is refused up front.
void require_regular(const std::string& path) {
  fs::file_status status = status_of(path);
  if (!fs::exists(status)) {
    throw DataError(path + ": cannot open: No such file or directory");
  }
  if (!fs::is_regular_file(status)) {
    throw DataError(path + ": cannot open: not a regular file");
  }
}

}  // namespace

std::vector<unsigned char> read_binary_file(const std::string& path) {
  require_regular(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw DataError(path + ": cannot open: " + std::strerror(errno));
  }
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) throw DataError(path + ": cannot determine the file size");
  std::vector<unsigned char> bytes(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw DataError(path + ": read failed");
  }
  return bytes;
}

std::vector<std::string> read_text_lines(const std::string& path) {
  require_regular(path);
  std::ifstream in(path);
  if (!in) throw DataError(path + ": cannot open: " + std::strerror(errno));
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() &&
           (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.pop_back();
    }
    if (!line.empty()) lines.push_back(line);
  }
  if (in.bad()) throw DataError(path + ": read failed");
  return lines;
}

void require_directory(const std::string& path, const std::string& what) {
  fs::file_status status = status_of(path);
  if (!fs::exists(status)) {
    throw DataError(path + ": " + what + " not found");
  }
  if (!fs::is_directory(status)) {
    throw DataError(path + ": " + what + " is not a directory");
  }
}

void require_file(const std::string& path, const std::string& what) {
  fs::file_status status = status_of(path);
  if (!fs::exists(status)) {
    throw DataError(path + ": " + what + " not found");
  }
  if (!fs::is_regular_file(status)) {
    throw DataError(path + ": " + what + " is not a regular file");
  }
}

}  // namespace adascale::datasets
