#pragma once
/// Damaging LibTorch archives (what torch::serialize::OutputArchive::save_to
/// writes: checkpoints, bundle weights) for the tests of their readers:
/// where each zip record lies, which bytes a test may damage without
/// crashing LibTorch itself, and a pickle memo index or a record name
/// changed where LibTorch acts on it.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace adascale::testing {

/// One record of a zip archive, and where its parts lie.
struct ZipRecord {
  std::string name;        ///< as stored ("archive/data.pkl")
  size_t begin = 0;        ///< its local header
  size_t data = 0;         ///< its first data byte
  size_t size = 0;         ///< its data bytes (LibTorch stores, never packs)
  size_t end = 0;          ///< the next record's local header, or the directory
  size_t entry_begin = 0;  ///< its entry in the central directory
  size_t entry_end = 0;

  /// The name inside the archive's folder ("data.pkl").
  std::string inner() const { return name.substr(name.find('/') + 1); }
  /// TorchScript source or its debug pickle: LibTorch compiles it while it
  /// loads the archive, and a damaged one can crash LibTorch itself
  /// (tests/fuzz_regressions/checkpoint/checkpoint_torchscript_type_parser_segv).
  bool is_code() const { return inner().rfind("code/", 0) == 0; }
  /// Whether `offset` is one of the bytes of a tensor (data/<n>).
  bool holds_tensor_byte(size_t offset) const {
    return inner().rfind("data/", 0) == 0 && offset >= data &&
           offset < data + size;
  }
};

inline uint64_t little_endian(std::string_view bytes, size_t at, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) {
    value = (value << 8) | uint8_t(bytes[at + size_t(i)]);
  }
  return value;
}

/// The records of the zip archive `archive` in file order, read from its
/// central directory; empty when it is not a small zip archive as LibTorch
/// writes one (end-of-directory record last, no comment).
inline std::vector<ZipRecord> zip_records(std::string_view archive) {
  const size_t end_record = archive.rfind("PK\x05\x06");
  if (end_record == std::string_view::npos ||
      end_record + 22 != archive.size()) {
    return {};
  }
  const size_t count = little_endian(archive, end_record + 10, 2);
  size_t at = little_endian(archive, end_record + 16, 4);
  const size_t directory = at;
  std::vector<ZipRecord> records;
  for (size_t i = 0; i < count; ++i) {
    if (at + 46 > archive.size() || archive.substr(at, 4) != "PK\x01\x02") {
      return {};
    }
    ZipRecord r;
    const size_t name_size = little_endian(archive, at + 28, 2);
    r.name = std::string(archive.substr(at + 46, name_size));
    r.size = little_endian(archive, at + 20, 4);
    r.begin = little_endian(archive, at + 42, 4);
    r.entry_begin = at;
    at += 46 + name_size + little_endian(archive, at + 30, 2) +
          little_endian(archive, at + 32, 2);
    r.entry_end = at;
    if (r.begin + 30 > directory) return {};
    r.data = r.begin + 30 + little_endian(archive, r.begin + 26, 2) +
             little_endian(archive, r.begin + 28, 2);
    records.push_back(r);
  }
  std::sort(
      records.begin(), records.end(),
      [](const ZipRecord& a, const ZipRecord& b) { return a.begin < b.begin; });
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].end = i + 1 < records.size() ? records[i + 1].begin : directory;
  }
  return records;
}

/// `count` offsets of `archive` a test may damage, in order: half spread
/// evenly over the data of its pickles (data.pkl, constants.pkl), half over
/// every other byte outside its code records (whose headers, data, data
/// descriptors and directory entries are left whole).
inline std::vector<size_t> damageable_offsets(
    std::string_view archive, const std::vector<ZipRecord>& records,
    size_t count) {
  std::vector<bool> code(archive.size(), false), pickle(archive.size(), false);
  for (const ZipRecord& r : records) {
    const std::string inner = r.inner();
    if (!r.is_code() && inner.size() > 4 &&
        inner.compare(inner.size() - 4, 4, ".pkl") == 0) {
      std::fill(pickle.begin() + long(r.data),
                pickle.begin() + long(std::min(r.data + r.size, r.end)), true);
    }
    if (!r.is_code()) continue;
    std::fill(code.begin() + long(r.begin), code.begin() + long(r.end), true);
    std::fill(code.begin() + long(r.entry_begin),
              code.begin() + long(std::min(r.entry_end, code.size())), true);
  }
  std::vector<size_t> pickles, others;
  for (size_t i = 0; i < archive.size(); ++i) {
    if (pickle[i]) {
      pickles.push_back(i);
    } else if (!code[i]) {
      others.push_back(i);
    }
  }
  std::vector<size_t> offsets;
  auto spread = [&](const std::vector<size_t>& from, size_t n) {
    for (size_t i = 0; i < n && !from.empty(); ++i) {
      offsets.push_back(from[i * from.size() / n]);
    }
  };
  spread(pickles, count / 2);
  spread(others, count - count / 2);
  std::sort(offsets.begin(), offsets.end());
  offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
  return offsets;
}

/// The record whose local part (header, data, descriptor) holds `offset`,
/// or nullptr (the central directory and what follows it).
inline const ZipRecord* record_at(const std::vector<ZipRecord>& records,
                                  size_t offset) {
  for (const ZipRecord& r : records) {
    if (offset >= r.begin && offset < r.end) return &r;
  }
  return nullptr;
}

/// `archive` with the first memo store of its data.pkl (BINPUT 0, after
/// PROTO 2 and the top module's GLOBAL) made a LONG_BINPUT of `index` in
/// place, the shape of tests/fuzz_regressions/checkpoint/memo_index_of_1.6e9:
/// LibTorch 1.13's unpickler sizes its memo by the index before it reads on
/// (25.6 GB for 1.6e9). Empty when data.pkl does not start that way.
inline std::string with_memo_index(std::string archive, uint32_t index) {
  for (const ZipRecord& r : zip_records(archive)) {
    if (r.inner() != "data.pkl") continue;
    const size_t end = r.data + r.size;
    if (r.size < 4 || archive.compare(r.data, 3,
                                      "\x80\x02"
                                      "c") != 0) {
      return {};
    }
    size_t at = archive.find('\n', r.data + 3);  // module line
    if (at != std::string::npos) at = archive.find('\n', at + 1);  // name
    if (at == std::string::npos || at + 6 > end || archive[at + 1] != 'q') {
      return {};
    }
    archive[at + 1] = 'r';
    for (int i = 0; i < 4; ++i) {
      archive[at + 2 + size_t(i)] = char(index >> (8 * i));
    }
    return archive;
  }
  return {};
}

/// `archive` with a record's name in the central directory, where LibTorch
/// looks records up (ignoring case), changed to `to` of the same length.
/// Empty when there is no record `from`.
inline std::string with_record_renamed(std::string archive,
                                       const std::string& from,
                                       const std::string& to) {
  if (from.size() != to.size()) return {};
  for (const ZipRecord& r : zip_records(archive)) {
    if (r.name != from) continue;
    archive.replace(r.entry_begin + 46, to.size(), to);
    return archive;
  }
  return {};
}

}  // namespace adascale::testing
