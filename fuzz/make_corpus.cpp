// Writes the seed corpus of every fuzz target (fuzz/fuzz_input.h):
//   adascale_fuzz_corpus OUT_DIR      → OUT_DIR/<reader>/<seed>
// Valid seeds are made on the spot; see seed_corpus() for the hostile ones.

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>

#include "core/logging.h"
#include "fuzz/fuzz_input.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  adascale::log::set_level(adascale::log::Level::kOff);
  try {
    const std::filesystem::path out(argv[1]);
    for (const std::string& reader : adascale::fuzz::fuzz_readers()) {
      std::filesystem::create_directories(out / reader);
      for (const auto& seed : adascale::fuzz::seed_corpus(reader)) {
        std::ofstream file(out / reader / seed.name,
                           std::ios::binary | std::ios::trunc);
        file.write(seed.bytes.data(), std::streamsize(seed.bytes.size()));
        if (!file) {
          std::fprintf(stderr, "adascale_fuzz_corpus: cannot write %s\n",
                       (out / reader / seed.name).c_str());
          return 1;
        }
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "adascale_fuzz_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
