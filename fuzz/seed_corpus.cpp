// Seed corpora: valid files made on the spot plus the hostile shapes the
// readers must refuse. Small on purpose: libFuzzer mutates them, so a bomb
// is a few KiB of gzip, not gigabytes.

#include <zlib.h>

#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "core/bundle_manifest.h"
#include "core/error.h"
#include "core/file_checksum.h"
#include "core/run_config.h"
#include "core/sha256.h"
#include "fuzz/fuzz_input.h"

namespace adascale::fuzz {

namespace {

std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

std::string gzip(const std::string& plain) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw InternalError("gzip: deflateInit2 failed");
  }
  std::string out(deflateBound(&z, uLong(plain.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = uInt(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw InternalError("gzip: deflate failed");
  return out;
}

std::string names(int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += "class" + std::to_string(i) + "\n";
  return text;
}

// `records` CIFAR records with `label_bytes` label bytes each (all 1).
std::string cifar_records(int records, int label_bytes) {
  std::string out;
  for (int r = 0; r < records; ++r) {
    out += std::string(size_t(label_bytes), char(1));
    for (int i = 0; i < 3 * 32 * 32; ++i) out += char((i * 7 + r) & 0xff);
  }
  return out;
}

std::vector<Seed> cifar_seeds() {
  const std::string ten = cifar_records(2, 1);
  const std::string hundred = cifar_records(2, 2);
  std::string bad_label = ten;
  bad_label[0] = char(10);
  return {
      {"valid_cifar10", char(0) + ten, true},
      {"valid_cifar100_coarse", char(1) + hundred, true},
      {"valid_cifar100_fine", char(2) + join_parts({hundred, names(100)}),
       true},
      {"short_by_one_byte", char(0) + ten.substr(0, ten.size() - 1), false},
      {"one_byte_too_many", char(0) + ten + "x", false},
      {"three_records", char(0) + cifar_records(3, 1), false},
      {"cifar100_record_size_of_cifar10", char(1) + ten, false},
      {"empty_file", std::string(1, char(0)), false},
      {"label_out_of_range", char(0) + bad_label, false},
      {"nine_class_names", char(0) + join_parts({ten, names(9)}), false},
  };
}

std::string idx_images(uint32_t count, uint32_t rows, uint32_t cols) {
  std::string out = be32(0x803) + be32(count) + be32(rows) + be32(cols);
  for (uint64_t i = 0; i < uint64_t(count) * rows * cols; ++i) {
    out += char(i & 0xff);
  }
  return out;
}

std::string idx_labels(uint32_t count) {
  std::string out = be32(0x801) + be32(count);
  for (uint32_t i = 0; i < count; ++i) out += char(i % 10);
  return out;
}

std::vector<Seed> idx_seeds() {
  const std::string images = idx_images(2, 4, 4);
  const std::string labels = idx_labels(2);
  // Honest header, then a MiB of zeros it does not declare.
  const std::string bomb = gzip(images + std::string(1 << 20, '\0'));
  // A header declaring 60000 28x28 images over a stream of zeros.
  const std::string lying = gzip(be32(0x803) + be32(60000) + be32(28) +
                                 be32(28) + std::string(1 << 20, '\0'));
  const std::string gz = gzip(images);
  return {
      {"valid_plain", join_parts({images, labels}), true},
      {"valid_gzip", join_parts({gz, gzip(labels)}), true},
      {"gzip_bomb_trailing_zeros", join_parts({bomb, labels}), false},
      {"gzip_bomb_lying_header", join_parts({lying, labels}), false},
      {"gzip_cut_short", join_parts({gz.substr(0, gz.size() / 2), labels}),
       false},
      {"huge_declared_dims",
       join_parts({be32(0x803) + be32(0xffffffff) + be32(32768) + be32(32768),
                   labels}),
       false},
      {"bad_magic", join_parts({be32(0x804) + images.substr(4), labels}),
       false},
      {"count_mismatch", join_parts({images, idx_labels(3)}), false},
      {"truncated_images", join_parts({images.substr(0, 20), labels}), false},
  };
}

std::string jpeg(int width, int height, int seed) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(uchar(x * 16 + seed), uchar(y * 16), uchar(seed * 40));
    }
  }
  std::vector<uchar> bytes;
  cv::imencode(".jpg", image, bytes);
  return {bytes.begin(), bytes.end()};
}

// `bytes` with the size in its first frame header (SOF0) replaced.
std::string with_frame_size(std::string bytes, int width, int height) {
  for (size_t i = 2; i + 8 < bytes.size(); ++i) {
    if (uint8_t(bytes[i]) == 0xFF && uint8_t(bytes[i + 1]) == 0xC0) {
      bytes[i + 5] = char(height >> 8);
      bytes[i + 6] = char(height & 0xff);
      bytes[i + 7] = char(width >> 8);
      bytes[i + 8] = char(width & 0xff);
      return bytes;
    }
  }
  throw InternalError("seed JPEG without a SOF0 frame header");
}

std::vector<Seed> tiny_imagenet_seeds() {
  const std::string wnids = "n01443537\nn01629819\n";
  const std::string words = "n01443537\tgoldfish\nn01629819\tsalamander\n";
  const std::string notes =
      "img_0.JPEG\tn01443537\t0\t0\t8\t8\nimg_1.JPEG\tn01629819\t1\t1\t7\t7\n";
  const std::string a = jpeg(8, 8, 1);
  const std::string b = jpeg(8, 8, 2);
  const std::string val(1, char(0));
  const std::string train(1, char(1));
  auto seed = [&](std::string name, std::string mode,
                  std::vector<std::string> parts, bool valid) {
    return Seed{std::move(name), mode + join_parts(parts), valid};
  };
  return {
      seed("valid_val", val, {wnids, words, notes, a, b}, true),
      seed("valid_train", train, {wnids, words, "", a, b}, true),
      seed("no_images", val, {wnids}, false),
      seed("declares_30000x30000", val,
           {wnids, words, notes, a, with_frame_size(b, 30000, 30000)}, false),
      seed("first_declares_30000x30000", train,
           {wnids, words, "", with_frame_size(a, 30000, 30000), b}, false),
      seed("other_size", val, {wnids, words, notes, a, jpeg(16, 8, 3)}, false),
      seed("truncated_jpeg", val,
           {wnids, words, notes, a, b.substr(0, b.size() / 2)}, false),
      seed("png_named_jpeg", val,
           {wnids, words, notes, a, std::string("\x89PNG\r\n\x1a\n", 8)},
           false),
      seed("unknown_wnid", val,
           {wnids, words, "img_0.JPEG\tn0\nimg_1.JPEG\tn01629819\n", a, b},
           false),
      seed("wnid_leaves_root", train, {"../../etc\n", "", "", a}, false),
      seed("duplicate_annotation", val,
           {wnids, words, notes + "img_0.JPEG\tn01443537\n", a, b}, false),
  };
}

std::string png(int width, int height, int channels, int seed) {
  cv::Mat image(height, width, CV_8UC(channels));
  cv::randu(image, cv::Scalar::all(seed), cv::Scalar::all(255));
  std::vector<uint8_t> bytes;
  if (!cv::imencode(".png", image, bytes)) {
    throw InternalError("cannot encode a seed PNG");
  }
  return {bytes.begin(), bytes.end()};
}

// Byte 0 of run_image_folder_input: bit 0 stretch, bit 1 decoded by the
// loader, bit 2 test/ (else val/), bit 3 .jpg names (else .png).
std::vector<Seed> image_folder_seeds() {
  const std::string a = png(12, 10, 3, 1), b = png(9, 9, 1, 2),
                    alpha = png(8, 8, 4, 3), jpg = jpeg(8, 8, 4);
  auto seed = [](std::string name, char mode, std::vector<std::string> parts,
                 bool valid) {
    return Seed{std::move(name), std::string(1, mode) + join_parts(parts),
                valid};
  };
  return {
      seed("valid_png_crop", 0, {a, b, alpha}, true),
      seed("valid_png_stretch_lazy_test", 1 | 2 | 4, {a, b}, true),
      seed("valid_jpeg_named_jpg", 8, {jpg, jpeg(16, 8, 5)}, true),
      seed("png_named_jpg", 8, {a, b}, true),  // decoded whatever it holds
      seed("empty_image", 0, {a, ""}, false),
      seed("truncated_png", 0, {a, b.substr(0, b.size() / 2)}, false),
      seed("truncated_png_lazy", 2, {a, b.substr(0, b.size() / 2)}, false),
      seed("text_named_png", 0, {a, "not an image\n"}, false),
      seed("declares_30000x30000", 8,
           {jpg, with_frame_size(jpeg(8, 8, 6), 30000, 30000)}, false),
  };
}

core::ModelSpec fuzz_model_spec(int width) {
  core::ModelSpec spec;
  spec.name = "fuzz";
  spec.classes = 3;
  spec.resolution = 8;
  spec.stem.channels = 8;
  for (int s = 0; s < 2; ++s) {
    core::StageSpec stage;
    stage.out_channels = width;
    stage.stride = 2;
    core::CandidateSpec a, b;
    a.op.type = "basic";
    b.op.type = "dws";
    stage.candidates = {a, b};
    spec.stages.push_back(stage);
  }
  core::finalize_model_spec(spec, "fuzz");
  return spec;
}

std::string alias_bomb() {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += (k ? ", " : "") + prev;
    text += "]\n";
  }
  return text;
}

// Few nodes, many bytes: one long scalar aliased thousands of times (4 GiB
// once every alias is copied out).
std::string long_scalar_alias_bomb() {
  std::string text = "s: &s " + std::string(size_t(256) << 10, 'x') + "\nl: [";
  for (int i = 0; i < 16384; ++i) text += i ? ", *s" : "*s";
  return text + "]\n";
}

std::vector<Seed> config_seeds() {
  core::RunConfig defaults;
  defaults.model = fuzz_model_spec(16);
  const std::string full = core::to_yaml(defaults);
  std::string many = "include: [";
  for (int i = 0; i < 2000; ++i)
    many += (i ? ", " : "") + std::string("inc1.yaml");
  many += "]\n";
  return {
      {"valid_resolved", full, true},
      {"valid_includes",
       join_parts({"include: inc1.yaml\nname: fuzz\nmodel: {include: "
                   "inc2.yaml}\ntrain: {epochs: 2}\n",
                   "seed: 3\nlog_level: warn\nloader: {}\n",
                   core::model_spec_yaml(fuzz_model_spec(16))}),
       true},
      {"valid_empty", "", true},
      {"alias_bomb", alias_bomb(), false},
      {"long_scalar_alias_bomb", long_scalar_alias_bomb(), false},
      {"include_dev_zero", "include: zero.yaml\n", false},
      {"include_directory", "include: dir.yaml\n", false},
      {"include_cycle",
       join_parts({"include: inc1.yaml\n", "include: main.yaml\n"}), false},
      {"one_file_included_2000_times", join_parts({many, "seed: 1\n"}), false},
      {"include_missing", "model: {include: nothere.yaml}\n", false},
      {"unknown_key", "nmae: x\n", false},
      {"not_a_map", "- 1\n- 2\n", false},
  };
}

core::BundleManifest fuzz_manifest(int width) {
  core::BundleManifest m;
  m.created_by = "adascale fuzz";
  m.source = "runs/fuzz";
  m.model = fuzz_model_spec(width);
  m.normalization = {{0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}};
  m.classes = {"a", "b", "c"};
  m.trunk = {"dws"};
  m.variants = {{"e1:basic", 1, 0.625}, {"e1:dws", 1, NAN}};
  return m;
}

std::vector<Seed> manifest_seeds() {
  const std::string valid = core::manifest_yaml(fuzz_manifest(16));
  const std::string sums = core::sha256_hex(valid) + "  manifest.yaml\n" +
                           core::sha256_hex("w") + "  weights.pt\n" +
                           core::sha256_hex("t") + "  tables.h5\n";
  // 65,536 channels per stage: refused (its exit head would need 131,072).
  const std::string absurd = core::manifest_yaml(fuzz_manifest(1 << 16));
  std::string overflow = valid;
  const size_t at = overflow.find("out_channels: 16");
  if (at != std::string::npos)
    overflow.replace(at, 16, "out_channels: 4294967296");
  const std::string bomb =
      "format: adascale-bundle\nformat_version: 1\n" + alias_bomb();
  std::string other_version = valid;
  const size_t version = other_version.find("format_version: 1");
  if (version != std::string::npos)
    other_version.replace(version, 17, "format_version: 2");
  return {
      {"valid", valid, true},
      {"valid_with_sums", join_parts({valid, sums}), true},
      {"absurd_out_channels", absurd, false},
      {"out_channels_past_int", overflow, false},
      {"other_version", other_version, false},
      // With SHA256SUMS that list it: the checksums do not make it safe.
      {"alias_bomb",
       join_parts({bomb, core::sha256_hex(bomb) + "  manifest.yaml\n" +
                             core::sha256_hex("w") + "  weights.pt\n" +
                             core::sha256_hex("t") + "  tables.h5\n"}),
       false},
      {"sums_escape_bundle",
       join_parts({valid, core::sha256_hex("x") + "  ../weights.pt\n"}), false},
      {"long_scalar_alias_bomb",
       "format: adascale-bundle\nformat_version: 1\n" +
           long_scalar_alias_bomb(),
       false},
      {"not_yaml", "format: [\n", false},
  };
}

// `archive` with the first memo store of its data.pkl (BINPUT 0, after
// PROTO 2 and the top module's GLOBAL) made a LONG_BINPUT of `index` in
// place: the shape of tests/fuzz_regressions/checkpoint/memo_index_of_1.6e9,
// on which LibTorch 1.13's unpickler allocates 16 bytes per index.
std::string with_memo_index(std::string archive, uint32_t index) {
  const std::string head =
      "\x80\x02"
      "c__torch__\nModule\nq";
  const size_t at = archive.find(head);
  if (at == std::string::npos || at + head.size() + 4 > archive.size()) {
    throw InternalError("checkpoint seed: data.pkl does not start as expected");
  }
  const size_t put = at + head.size() - 1;
  archive[put] = 'r';
  for (int i = 0; i < 4; ++i)
    archive[put + 1 + size_t(i)] = char(index >> (8 * i));
  return archive;
}

// `archive` with a record's name in the zip directory (which LibTorch looks
// records up in, ignoring case) changed to `to`, of the same length.
std::string with_record_renamed(std::string archive, const std::string& from,
                                const std::string& to) {
  const size_t at = archive.rfind(from);  // the directory follows the data
  if (at == std::string::npos || from.size() != to.size()) {
    throw InternalError("checkpoint seed: no record " + from);
  }
  archive.replace(at, to.size(), to);
  return archive;
}

std::vector<Seed> checkpoint_seeds() {
  const std::string sealed = checkpoint_seed(true);
  const std::string bare = checkpoint_seed(false);
  const std::string reseal(kResealMarker);
  const std::string memo_bomb = with_memo_index(bare, 1600000000);
  // The zip's end-of-central-directory record, damaged: no archive at all.
  std::string no_directory = bare;
  const size_t end_record = no_directory.rfind("PK\x05\x06");
  if (end_record != std::string::npos) no_directory[end_record + 2] = 'X';
  std::string bad_seal = sealed;
  bad_seal.back() = char(bad_seal.back() ^ 1);
  return {
      {"valid_sealed", sealed, true},
      // Without a checksum: refused, intact or not (no unverified archive
      // reaches LibTorch's loader).
      {"bare_archive", bare, false},
      {"truncated_archive", bare.substr(0, bare.size() / 2), false},
      {"damaged_zip_directory", no_directory, false},
      {"damaged_sealed", bad_seal, false},
      {"zip_magic_then_garbage", "PK\x03\x04" + std::string(64, '\x7f'), false},
      {"empty", "", false},
      // Sealed by the entry point: what the fuzzer mutates of these keeps a
      // matching checksum and so reaches LibTorch's unpickler.
      {"valid_resealed", reseal + bare, true},
      {"resealed_memo_index_of_1.6e9", reseal + memo_bomb, false},
      // The same behind names LibTorch reads but a listing of *.pkl records
      // inside the archive's folder would pass over.
      {"resealed_memo_index_in_data.Pkl",
       reseal + with_record_renamed(memo_bomb, "archive/data.pkl",
                                    "archive/data.Pkl"),
       false},
      {"resealed_memo_index_record_outside_the_folder",
       reseal +
           with_record_renamed(memo_bomb, "archive/version", "Archive/version"),
       false},
  };
}

}  // namespace

const std::vector<std::string>& fuzz_readers() {
  static const std::vector<std::string> readers = {
      "cifar",  "idx",      "tiny_imagenet", "image_folder",
      "config", "manifest", "checkpoint"};
  return readers;
}

Entry entry_of(const std::string& reader) {
  if (reader == "cifar") return run_cifar_input;
  if (reader == "idx") return run_idx_input;
  if (reader == "tiny_imagenet") return run_tiny_imagenet_input;
  if (reader == "image_folder") return run_image_folder_input;
  if (reader == "config") return run_config_input;
  if (reader == "manifest") return run_manifest_input;
  if (reader == "checkpoint") return run_checkpoint_input;
  throw InternalError("no fuzz entry point for '" + reader + "'");
}

std::vector<Seed> seed_corpus(const std::string& reader) {
  if (reader == "cifar") return cifar_seeds();
  if (reader == "idx") return idx_seeds();
  if (reader == "tiny_imagenet") return tiny_imagenet_seeds();
  if (reader == "image_folder") return image_folder_seeds();
  if (reader == "config") return config_seeds();
  if (reader == "manifest") return manifest_seeds();
  if (reader == "checkpoint") return checkpoint_seeds();
  throw InternalError("no seed corpus for '" + reader + "'");
}

}  // namespace adascale::fuzz
