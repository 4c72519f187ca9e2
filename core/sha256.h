#pragma once
/// SHA-256 digests (FIPS 180-4) through OpenSSL's EVP interface, as
/// lower-case hex, the form `sha256sum` prints: bundles list one per file
/// in SHA256SUMS (DESIGN §3.6).

#include <string>
#include <string_view>

namespace adascale::core {

/// Hex digits of a SHA-256 digest.
inline constexpr size_t kSha256HexChars = 64;

/// SHA-256 of `bytes` as 64 lower-case hex digits.
std::string sha256_hex(std::string_view bytes);

/// SHA-256 of the file at `path`, read in chunks (constant memory).
/// Throws IoError naming the file when it cannot be opened or read.
std::string sha256_file_hex(const std::string& path);

/// True when `text` is 64 hex digits (either case).
bool is_sha256_hex(std::string_view text);

}  // namespace adascale::core
