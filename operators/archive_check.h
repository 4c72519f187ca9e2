#pragma once
/// A bound on what LibTorch allocates while it reads a saved archive
/// (torch::serialize::InputArchive::load_from: checkpoints, bundle weights).
/// LibTorch 1.13's unpickler allocates whatever a length or memo index in
/// the archive's pickles declares before it reads a byte more: a damaged
/// archive of a few KiB can ask for gigabytes.

#include <string>
#include <string_view>

namespace adascale::operators {

/// Walks every pickle (a record whose name ends in `pkl`, in any case, as
/// LibTorch looks names up) of the zip archive `bytes` and throws DataError
/// "<source>: ..." when a declared string length runs past its pickle or a
/// memo index is larger than the pickle could ever fill, or when a record
/// lies outside the archive's folder (the records cannot be listed then).
/// Anything else malformed (not a zip, an unknown opcode) is left for
/// LibTorch to refuse as it loads the archive.
void check_archive_pickles(std::string_view bytes, const std::string& source);

}  // namespace adascale::operators
