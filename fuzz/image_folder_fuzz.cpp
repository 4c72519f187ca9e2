// libFuzzer target: the image folder reader (train/ and val/ or test/, PNG
// and JPEG images). Input layout: run_image_folder_input in
// fuzz/fuzz_input.h. Built with -DADASCALE_FUZZ=ON (docs/fuzzing.md).

#include <cstddef>
#include <cstdint>

#include "core/logging.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  adascale::log::set_level(adascale::log::Level::kOff);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  adascale::fuzz::run_or_abort(adascale::fuzz::run_image_folder_input, data,
                               size);
  return 0;
}
