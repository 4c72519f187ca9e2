#include <gtest/gtest.h>

#include "core/logging.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Tests assert on errors, not on log lines; keep their output readable.
  adascale::log::set_level(adascale::log::Level::kError);
  return RUN_ALL_TESTS();
}
