// The YAML config reader (includes, the typed schema) and the bundle
// manifest. What a reader accepts must survive a round trip through the
// writer; a resolved config or manifest that does not read back is reported
// as an InternalError, i.e. a finding.

#include <filesystem>
#include <string>
#include <vector>

#include "core/bundle_manifest.h"
#include "core/error.h"
#include "core/run_config.h"
#include "fuzz/fuzz_input.h"

namespace adascale::fuzz {

namespace fs = std::filesystem;

// Part 0 is main.yaml, part i is inc<i>.yaml beside it. Hostile includes
// need no bytes of their own: dir.yaml is a directory, zero.yaml a link to
// /dev/zero.
void run_config_input(std::string_view data) {
  const std::vector<std::string> parts = split_parts(data);
  ScratchDir dir;
  const std::string main = dir.write("main.yaml", parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    dir.write("inc" + std::to_string(i) + ".yaml", parts[i]);
  }
  fs::create_directory(dir.path() / "dir.yaml");
  std::error_code ec;
  fs::create_symlink("/dev/zero", dir.path() / "zero.yaml", ec);
  const core::RunConfig config = core::load_run_config(main, {});
  const std::string resolved = core::to_yaml(config);
  const std::string again = dir.write("resolved.yaml", resolved);
  try {
    if (core::to_yaml(core::load_run_config(again, {})) != resolved) {
      throw InternalError("resolved config changes when read back");
    }
  } catch (const InternalError&) {
    throw;
  } catch (const Error& e) {
    throw InternalError(std::string("resolved config does not read back: ") +
                        e.what());
  }
}

// Part 0 is manifest.yaml, part 1 (optional) SHA256SUMS; both in memory.
void run_manifest_input(std::string_view data) {
  const std::vector<std::string> parts = split_parts(data);
  if (parts.size() > 1) (void)core::parse_checksums(parts[1], "SHA256SUMS");
  const core::BundleManifest manifest =
      core::parse_manifest(parts[0], "manifest.yaml");
  const std::string written = core::manifest_yaml(manifest);
  try {
    if (core::manifest_yaml(core::parse_manifest(written, "rewritten")) !=
        written) {
      throw InternalError("manifest changes when read back");
    }
  } catch (const InternalError&) {
    throw;
  } catch (const Error& e) {
    throw InternalError(std::string("manifest does not read back: ") +
                        e.what());
  }
}

}  // namespace adascale::fuzz
