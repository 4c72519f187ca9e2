#include "operators/archive_check.h"

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <vector>

#include "core/error.h"

namespace adascale::operators {

namespace {

// PyTorchStreamReader over bytes already in memory, without a copy.
class ViewAdapter : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit ViewAdapter(std::string_view bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n,
              const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    n = std::min<size_t>(n, bytes_.size() - size_t(pos));
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  std::string_view bytes_;
};

uint64_t little_endian(const uint8_t* p, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// Walks the opcodes of one pickle up to STOP, or up to an opcode it does
// not know (LibTorch refuses that one itself), checking every declared
// length and memo index on the way.
void check_pickle(const uint8_t* p, size_t n, const std::string& where) {
  size_t i = 0;
  auto need = [&](uint64_t bytes) {
    if (bytes > n - i) {
      throw DataError(where + ": pickle declares " + std::to_string(bytes) +
                      " bytes at offset " + std::to_string(i) + ", only " +
                      std::to_string(n - i) + " follow");
    }
  };
  // A length-prefixed argument: `width` bytes of length, then the data.
  auto skip_counted = [&](int width) {
    need(uint64_t(width));
    const uint64_t length = little_endian(p + i, width);
    i += size_t(width);
    need(length);
    i += size_t(length);
  };
  auto skip_line = [&] {
    const void* end = std::memchr(p + i, '\n', n - i);
    if (end == nullptr) throw DataError(where + ": pickle line without end");
    i = size_t(static_cast<const uint8_t*>(end) - p) + 1;
  };
  while (i < n) {
    const uint8_t op = p[i++];
    switch (op) {
      case '.':  // STOP
        return;
      case '(':
      case '0':
      case '1':
      case '2':
      case 'N':
      case 'Q':
      case 'R':
      case 'a':
      case 'b':
      case 'd':
      case '}':
      case 'e':
      case 'l':
      case ']':
      case 'o':
      case 's':
      case 't':
      case ')':
      case 'u':
      case 0x81:
      case 0x85:
      case 0x86:
      case 0x87:
      case 0x88:
      case 0x89:
      case 0x8f:
      case 0x90:
      case 0x91:
      case 0x92:
      case 0x93:
      case 0x94:
        break;  // no argument
      case 'K':
      case 'q':
      case 'h':
      case 0x80:
      case 0x82:
        need(1);
        i += 1;
        break;
      case 'M':
      case 0x83:
        need(2);
        i += 2;
        break;
      case 'J':
      case 'j':
      case 0x84:
        need(4);
        i += 4;
        break;
      case 'G':
      case 0x95:
        need(8);
        i += 8;
        break;
      case 'r': {  // LONG_BINPUT: the memo grows to the index given
        need(4);
        const uint64_t index = little_endian(p + i, 4);
        // Every memoised value took at least one opcode byte before it.
        if (index >= n) {
          throw DataError(where + ": pickle memo index " +
                          std::to_string(index) + " in a pickle of " +
                          std::to_string(n) + " bytes");
        }
        i += 4;
        break;
      }
      case 'U':
      case 'C':
      case 0x8c:
      case 0x8a:
        skip_counted(1);
        break;
      case 'T':
      case 'X':
      case 'B':
      case 0x8b:
        skip_counted(4);
        break;
      case 0x8d:
      case 0x8e:
      case 0x96:
        skip_counted(8);
        break;
      case 'c':
      case 'i':  // module and name lines
        skip_line();
        skip_line();
        break;
      case 'F':
      case 'I':
      case 'L':
      case 'S':
      case 'V':
      case 'P':
      case 'g':
      case 'p':
        skip_line();
        break;
      default:
        return;
    }
  }
}

}  // namespace

void check_archive_pickles(std::string_view bytes, const std::string& source) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(
        std::make_shared<ViewAdapter>(bytes));
  } catch (const std::exception&) {
    return;  // not a readable zip: LibTorch says so when it loads it
  }
  std::vector<std::string> records;
  try {
    records = reader->getAllRecords();
  } catch (const std::exception&) {
    // A record outside the archive's folder: the listing fails, LibTorch's
    // loader does not (it looks records up by name), so no pickle could be
    // checked and none may reach it.
    throw DataError(source +
                    ": a record outside the archive's folder; not an archive "
                    "LibTorch wrote");
  }
  for (const std::string& name : records) {
    // LibTorch finds records by name ignoring case (data.Pkl is the
    // data.pkl it unpickles); *.debug_pkl in the code folder are unpickled
    // when it reports a source location.
    if (name.size() < 3 ||
        !std::equal(name.end() - 3, name.end(), "pkl", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      continue;
    }
    at::DataPtr data;
    size_t size = 0;
    try {
      std::tie(data, size) = reader->getRecord(name);
    } catch (const std::exception&) {
      return;  // a damaged record: LibTorch refuses it as it loads it
    }
    check_pickle(static_cast<const uint8_t*>(data.get()), size,
                 source + ": " + name);
  }
}

}  // namespace adascale::operators
