#include "core/sha256.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

using adascale::testing::TempDir;

// FIPS 180-4 example vectors (NIST CAVP "SHA256ShortMsg"/"LongMsg" style).
TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, FileIsStreamedInChunksAndMatchesTheBuffer) {
  TempDir dir;
  // A million 'a': longer than one read chunk, the classic long vector.
  std::string million(1000000, 'a');
  std::string path = dir.write("a.bin", million);
  EXPECT_EQ(sha256_file_hex(path),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256_file_hex(path), sha256_hex(million));
  EXPECT_EQ(sha256_file_hex(dir.write("empty", "")), sha256_hex(""));
}

TEST(Sha256, MissingFileIsAnIoErrorNamingIt) {
  TempDir dir;
  EXPECT_THROW_WITH(sha256_file_hex(dir.file("nope.pt")), IoError,
                    "nope.pt: cannot open");
}

TEST(Sha256, RecognisesHexDigests) {
  EXPECT_TRUE(is_sha256_hex(sha256_hex("x")));
  EXPECT_TRUE(is_sha256_hex(std::string(64, 'F')));
  EXPECT_FALSE(is_sha256_hex(std::string(63, 'a')));
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'g')));
}

}  // namespace
}  // namespace adascale::core
