#include "core/sha256.h"

#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "core/error.h"

namespace adascale::core {
namespace {

constexpr size_t kChunk = 1 << 16;

struct ContextDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using Context = std::unique_ptr<EVP_MD_CTX, ContextDeleter>;

// OpenSSL failing on a plain digest means no memory or a broken library:
// nothing the input can cause.
Context start() {
  Context ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw InternalError("OpenSSL: cannot initialise SHA-256");
  return ctx;
}

void update(EVP_MD_CTX* ctx, const void* data, size_t size) {
  if (EVP_DigestUpdate(ctx, data, size) != 1)
    throw InternalError("OpenSSL: SHA-256 update failed");
}

std::string finish(EVP_MD_CTX* ctx) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx, digest.data(), &size) != 1 || size != 32)
    throw InternalError("OpenSSL: SHA-256 final failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(kSha256HexChars);
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  Context ctx = start();
  update(ctx.get(), bytes.data(), bytes.size());
  return finish(ctx.get());
}

std::string sha256_file_hex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open: " + std::strerror(errno));
  Context ctx = start();
  std::string buffer(kChunk, '\0');
  while (in) {
    in.read(buffer.data(), std::streamsize(buffer.size()));
    update(ctx.get(), buffer.data(), size_t(in.gcount()));
  }
  if (in.bad()) throw IoError(path + ": read failed");
  return finish(ctx.get());
}

bool is_sha256_hex(std::string_view text) {
  if (text.size() != kSha256HexChars) return false;
  for (char c : text) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
               (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

}  // namespace adascale::core
