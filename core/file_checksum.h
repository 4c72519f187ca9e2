#pragma once
/// Checksums for the files a run reads back (DESIGN §3.6): a damaged
/// checkpoint, tables.h5 or metrics.h5 is refused by name instead of being
/// used as if nothing happened.
///
/// Two forms. A *sealed* file carries its checksum inside: one header line
/// `adascale-sha256 <64 hex>\n` followed by the payload, written in one
/// atomic replacement, so no crash can separate the two (checkpoints).
/// A *sidecar* `<file>.sha256` in sha256sum's format sits beside a file
/// that a library writes in place (HDF5), written atomically after it.

#include <string>
#include <string_view>

namespace adascale::core {

/// The first bytes of a sealed file.
inline constexpr std::string_view kSealMagic = "adascale-sha256 ";

/// `payload` behind its checksum header.
std::string seal(std::string_view payload);

/// Whether `bytes` starts like a sealed file (the magic).
bool is_sealed(std::string_view bytes);

/// The payload of a sealed file after checking its checksum. Throws
/// DataError "<source>: checksum mismatch …" for a damaged file, or a
/// malformed header.
std::string_view unseal(std::string_view bytes, const std::string& source);

/// The sidecar that holds `path`'s checksum: `<path>.sha256`.
std::string checksum_sidecar_path(const std::string& path);

/// Writes `path`'s sidecar (atomically) from the file as it is now, or
/// from `contents_path` when given: a temporary file about to be renamed
/// to `path`, so that a failure writing the sidecar leaves the old file
/// and its sidecar as they were. Throws IoError.
void write_checksum_sidecar(const std::string& path,
                            const std::string& contents_path = {});

/// What verify_checksum_sidecar() found.
enum class SidecarCheck {
  kVerified,  ///< the sidecar matches the file
  kAbsent,    ///< no sidecar (written by an older build)
};

/// Checks `path` against its sidecar. Throws DataError naming the file
/// when they disagree or the sidecar is malformed.
SidecarCheck verify_checksum_sidecar(const std::string& path);

}  // namespace adascale::core
