#pragma once
/// Entry points shared by the libFuzzer targets (fuzz/*_fuzz.cpp, built with
/// -DADASCALE_FUZZ=ON and clang) and by tests/fuzz, which replays every kept
/// finding under tests/fuzz_regressions/<reader>/ in the regular build.
///
/// Each `run_<reader>_input` turns one fuzz input into the files the reader
/// takes (readers take paths), calls the reader and returns what it read, or
/// lets its exception through. A project error other than InternalError is
/// an expected outcome; anything else is a finding (see is_expected_error).
///
/// Several files in one input: the parts are separated by kPartSeparator; a
/// missing part reads as an empty string unless the entry point says
/// otherwise.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace adascale::fuzz {

/// Separates the files of one input (a line of its own).
inline constexpr std::string_view kPartSeparator = "\n@@adascale-fuzz-part@@\n";

/// `data` cut at every kPartSeparator.
std::vector<std::string> split_parts(std::string_view data);

/// The parts joined with kPartSeparator (what split_parts() undoes).
std::string join_parts(const std::vector<std::string>& parts);

/// A fresh directory for one input, removed with everything in it on
/// destruction. Under $ADASCALE_FUZZ_TMP, else the system temp directory.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  /// Writes `bytes` to `relative` (parents created); returns the path.
  std::string write(const std::string& relative, std::string_view bytes) const;

 private:
  std::filesystem::path path_;
};

/// Whether `error` is an outcome a reader may have on hostile input: an
/// adascale::Error, except InternalError (a broken invariant is a bug).
bool is_expected_error(const std::exception_ptr& error);

/// A one-line description of `error` for a finding report.
std::string describe_error(const std::exception_ptr& error);

/// Calls `entry` on `data`; returns normally when it succeeds or throws an
/// expected error. Otherwise prints the error to stderr and aborts, which
/// libFuzzer reports as a crash and saves the input. For
/// LLVMFuzzerTestOneInput.
void run_or_abort(void (*entry)(std::string_view), const uint8_t* data,
                  size_t size);

// The readers. Each input's layout is described where it is defined
// (fuzz/*_input.cpp); fuzz/make_corpus.cpp writes valid seeds.

/// CIFAR-10/-100 records: byte 0 picks the reader, then part 0 is the record
/// file and part 1 (optional) the class-name file.
void run_cifar_input(std::string_view data);
/// IDX images and labels, plain or gzip: part 0 images, part 1 labels.
void run_idx_input(std::string_view data);
/// Tiny ImageNet: byte 0 picks the split; parts wnids.txt, words.txt,
/// val_annotations.txt, then JPEG images.
void run_tiny_imagenet_input(std::string_view data);
/// An image folder (train/ and val/ or test/): byte 0 picks the options,
/// then one part per image file.
void run_image_folder_input(std::string_view data);
/// The YAML config reader: part 0 the config, parts 1.. files it may
/// include (inc1.yaml, ...), beside a directory (dir.yaml) and a link to
/// /dev/zero (zero.yaml).
void run_config_input(std::string_view data);
/// The bundle manifest (part 0) and its SHA256SUMS (part 1, optional).
void run_manifest_input(std::string_view data);
/// A training checkpoint file, restored into a small fixed model. An input
/// that starts with kResealMarker holds the payload only: the entry point
/// seals it (core::seal) before the reader sees it, so mutations of it keep
/// a matching checksum and reach LibTorch's unpickler. Such an input whose
/// TorchScript code records (code/...) are not the valid seed's, byte for
/// byte but for the addresses in them, is passed over: LibTorch crashes on
/// damaged code, which only the checksum keeps from it (docs/fuzzing.md).
void run_checkpoint_input(std::string_view data);

/// Opens a checkpoint input whose payload run_checkpoint_input() seals.
inline constexpr std::string_view kResealMarker = "@@adascale-fuzz-reseal@@\n";

/// Whether run_checkpoint_input() passes `data` over without reading it (a
/// resealed input with code records other than the valid seed's).
bool checkpoint_input_passed_over(std::string_view data);

/// A reader's entry point above.
using Entry = void (*)(std::string_view);

/// The readers under fuzz: "cifar", "idx", "tiny_imagenet", "image_folder",
/// "config", "manifest", "checkpoint" (the names of fuzz/<reader>_fuzz.cpp).
const std::vector<std::string>& fuzz_readers();

/// The entry point of `reader`; throws InternalError for an unknown name.
Entry entry_of(const std::string& reader);

/// One file of a seed corpus.
struct Seed {
  std::string name;   ///< file name in the corpus directory
  std::string bytes;  ///< the input
  bool valid = true;  ///< the reader must accept it (else: refuse it)
};

/// The seed corpus of `reader`: valid inputs made on the spot, which the
/// reader must accept, and hostile shapes (alias bombs, /dev/zero and
/// directories as includes, gzip bombs, records of the wrong size, a JPEG
/// declaring 30000x30000, damaged checkpoints, absurd out_channels), which it
/// must refuse with a project error. fuzz/make_corpus.cpp writes them out.
std::vector<Seed> seed_corpus(const std::string& reader);

/// The fingerprint run_checkpoint_input() expects; seeds are written with it.
inline constexpr const char* kCheckpointFingerprint = "adascale-fuzz";

/// A valid checkpoint of run_checkpoint_input()'s model and optimiser, as
/// save_checkpoint() writes it (`sealed`) or as an older build did (the bare
/// archive, which the reader refuses before LibTorch sees it).
std::string checkpoint_seed(bool sealed);

}  // namespace adascale::fuzz
