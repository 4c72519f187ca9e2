#include "fuzz/fuzz_input.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <typeinfo>

#include "core/error.h"

namespace adascale::fuzz {

namespace fs = std::filesystem;

std::vector<std::string> split_parts(std::string_view data) {
  std::vector<std::string> parts;
  for (;;) {
    const size_t cut = data.find(kPartSeparator);
    parts.emplace_back(data.substr(0, cut));
    if (cut == std::string_view::npos) return parts;
    data.remove_prefix(cut + kPartSeparator.size());
  }
}

std::string join_parts(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += kPartSeparator;
    out += parts[i];
  }
  return out;
}

ScratchDir::ScratchDir() {
  static std::atomic<unsigned long> counter{0};
  const char* base = std::getenv("ADASCALE_FUZZ_TMP");
  const fs::path root =
      base != nullptr ? fs::path(base) : fs::temp_directory_path();
  path_ = root / ("adascale-fuzz-" + std::to_string(::getpid()) + "-" +
                  std::to_string(counter++));
  fs::remove_all(path_);
  fs::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string ScratchDir::write(const std::string& relative,
                              std::string_view bytes) const {
  const fs::path path = path_ / relative;
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw InternalError(path.string() + ": fuzz harness cannot write");
  return path.string();
}

bool is_expected_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const InternalError&) {
    return false;
  } catch (const Error&) {
    return true;
  } catch (...) {
    return false;
  }
}

std::string describe_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const InternalError& e) {
    return std::string("adascale::InternalError: ") + e.what();
  } catch (const Error& e) {
    return std::string("adascale::Error: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("not a project error (") + typeid(e).name() +
           "): " + e.what();
  } catch (...) {
    return "not a project error: an exception of unknown type";
  }
}

void run_or_abort(void (*entry)(std::string_view), const uint8_t* data,
                  size_t size) {
  // ADASCALE_FUZZ_VERBOSE=1 <reader>_fuzz FILE...: what became of each input.
  static const bool verbose = std::getenv("ADASCALE_FUZZ_VERBOSE") != nullptr;
  try {
    entry(std::string_view(reinterpret_cast<const char*>(data), size));
    if (verbose) std::fprintf(stderr, "adascale fuzz: accepted\n");
  } catch (...) {
    const std::exception_ptr error = std::current_exception();
    if (verbose) {
      std::fprintf(stderr, "adascale fuzz: %s\n",
                   describe_error(error).c_str());
    }
    if (is_expected_error(error)) return;
    std::fprintf(stderr, "adascale fuzz finding: %s\n",
                 describe_error(error).c_str());
    std::abort();
  }
}

}  // namespace adascale::fuzz
