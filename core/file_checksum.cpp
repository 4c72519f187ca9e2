#include "core/file_checksum.h"

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/sha256.h"

namespace adascale::core {
namespace fs = std::filesystem;

namespace {

constexpr size_t kSealHeader = kSealMagic.size() + kSha256HexChars + 1;

std::string lower(std::string_view hex) {
  std::string out(hex);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = char(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::string seal(std::string_view payload) {
  std::string out;
  out.reserve(kSealHeader + payload.size());
  out.append(kSealMagic);
  out.append(sha256_hex(payload));
  out.push_back('\n');
  out.append(payload);
  return out;
}

bool is_sealed(std::string_view bytes) {
  return bytes.substr(0, kSealMagic.size()) == kSealMagic;
}

std::string_view unseal(std::string_view bytes, const std::string& source) {
  if (!is_sealed(bytes) || bytes.size() < kSealHeader ||
      bytes[kSealHeader - 1] != '\n' ||
      !is_sha256_hex(bytes.substr(kSealMagic.size(), kSha256HexChars))) {
    throw DataError(source +
                    ": malformed checksum header (the file is "
                    "damaged)");
  }
  const std::string_view payload = bytes.substr(kSealHeader);
  if (sha256_hex(payload) !=
      lower(bytes.substr(kSealMagic.size(), kSha256HexChars))) {
    throw DataError(source +
                    ": checksum mismatch (the file is damaged: changed, "
                    "truncated or corrupted since it was written)");
  }
  return payload;
}

std::string checksum_sidecar_path(const std::string& path) {
  return path + ".sha256";
}

void write_checksum_sidecar(const std::string& path,
                            const std::string& contents_path) {
  write_file_atomic(
      checksum_sidecar_path(path),
      sha256_file_hex(contents_path.empty() ? path : contents_path) + "  " +
          fs::path(path).filename().string() + "\n");
}

SidecarCheck verify_checksum_sidecar(const std::string& path) {
  const std::string sidecar = checksum_sidecar_path(path);
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(sidecar, ec)))
    return SidecarCheck::kAbsent;
  if (!fs::is_regular_file(fs::symlink_status(sidecar, ec)) ||
      fs::file_size(sidecar, ec) > 4096) {
    throw DataError(sidecar + ": not a checksum file");
  }
  const std::string text = read_file(sidecar);
  const std::string name = fs::path(path).filename().string();
  // sha256sum's line: "<hex>  <name>" (or "<hex> *<name>").
  if (text.size() < kSha256HexChars + 3 ||
      !is_sha256_hex(std::string_view(text).substr(0, kSha256HexChars)) ||
      text.substr(kSha256HexChars + 2, name.size()) != name) {
    throw DataError(sidecar + ": malformed (expected '<sha256>  " + name +
                    "')");
  }
  if (sha256_file_hex(path) != lower(text.substr(0, kSha256HexChars))) {
    throw DataError(path + ": checksum mismatch with " +
                    fs::path(sidecar).filename().string() +
                    " (the file is damaged, or its write was interrupted)");
  }
  return SidecarCheck::kVerified;
}

}  // namespace adascale::core
