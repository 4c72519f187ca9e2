#include "datasets/tiny_imagenet_reader.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/logging.h"
#include "datasets/image_decode.h"
#include "datasets/reader_util.h"

namespace adascale::datasets {

namespace {

namespace fs = std::filesystem;

// One image to decode and its label.
struct Sample {
  std::string path;
  int32_t label = 0;
};

// A non-empty line of a text file and its 1-based line number.
struct NumberedLine {
  int number = 0;
  std::string text;
};

std::string join(const std::string& a, const std::string& b) {
  return (fs::path(a) / b).string();
}

std::string line_ref(const std::string& path, int line) {
  return path + ":" + std::to_string(line);
}

// Like read_text_lines, but keeps line numbers for error messages.
std::vector<NumberedLine> read_numbered_lines(const std::string& path) {
  require_file(path, "text file");
  std::ifstream in(path);
  if (!in) throw DataError(path + ": cannot open");
  std::vector<NumberedLine> lines;
  std::string text;
  for (int number = 1; std::getline(in, text); ++number) {
    while (!text.empty() &&
           (text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) {
      text.pop_back();
    }
    if (!text.empty()) lines.push_back({number, text});
  }
  if (in.bad()) throw DataError(path + ": read failed");
  return lines;
}

std::vector<std::string> split_tabs(const std::string& text) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (;;) {
    const size_t tab = text.find('\t', start);
    fields.push_back(text.substr(start, tab - start));
    if (tab == std::string::npos) return fields;
    start = tab + 1;
  }
}

// File names (not paths) of the JPEGs in `dir`, sorted.
std::vector<std::string> list_jpegs(const std::string& dir,
                                    const std::string& what) {
  return list_image_files(dir, what, {".jpeg", ".jpg"});
}

// wnid → readable name from words.txt, for the wnids we use; absent entries
// (or an absent words.txt) fall back to the wnid.
std::vector<std::string> class_names_for(
    const std::string& root, const std::vector<std::string>& wnids,
    const std::unordered_map<std::string, int32_t>& label_of) {
  std::vector<std::string> names = wnids;
  const std::string path = join(root, "words.txt");
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    log::debug("{} not found; Tiny ImageNet class names are the wnids", path);
    return names;
  }
  std::vector<bool> named(wnids.size(), false);
  for (const NumberedLine& line : read_numbered_lines(path)) {
    const size_t tab = line.text.find('\t');
    if (tab == std::string::npos) continue;  // a wnid without a name
    auto it = label_of.find(line.text.substr(0, tab));
    if (it == label_of.end() || named[it->second]) continue;
    std::string name = line.text.substr(tab + 1);
    if (name.empty()) continue;
    names[it->second] = std::move(name);
    named[it->second] = true;
  }
  return names;
}

std::vector<Sample> train_samples(const std::string& root,
                                  const std::vector<std::string>& wnids) {
  const std::string train_dir = join(root, "train");
  require_directory(train_dir, "Tiny ImageNet train directory");
  std::vector<Sample> samples;
  for (size_t label = 0; label < wnids.size(); ++label) {
    const std::string dir = join(join(train_dir, wnids[label]), "images");
    const std::vector<std::string> files =
        list_jpegs(dir, "image directory of class " + wnids[label]);
    if (files.empty()) {
      throw DataError(dir + ": no .JPEG images for class " + wnids[label]);
    }
    for (const std::string& file : files) {
      samples.push_back({join(dir, file), static_cast<int32_t>(label)});
    }
  }
  return samples;
}

std::vector<Sample> val_samples(
    const std::string& root,
    const std::unordered_map<std::string, int32_t>& label_of) {
  const std::string val_dir = join(root, "val");
  require_directory(val_dir, "Tiny ImageNet val directory");
  const std::string image_dir = join(val_dir, "images");
  const std::vector<std::string> files =
      list_jpegs(image_dir, "Tiny ImageNet val image directory");
  if (files.empty()) throw DataError(image_dir + ": no .JPEG images");
  const std::unordered_set<std::string> present(files.begin(), files.end());

  const std::string annotations = join(val_dir, "val_annotations.txt");
  require_file(annotations, "Tiny ImageNet val annotation file");
  struct Annotation {
    int32_t label;
    int line;
  };
  std::unordered_map<std::string, Annotation> annotation_of;
  for (const NumberedLine& line : read_numbered_lines(annotations)) {
    const std::vector<std::string> fields = split_tabs(line.text);
    if (fields.size() < 2 || fields[0].empty() || fields[1].empty()) {
      throw DataError(line_ref(annotations, line.number) +
                      ": expected 'file<TAB>wnid<TAB>x<TAB>y<TAB>w<TAB>h'");
    }
    const std::string& file = fields[0];
    const std::string& wnid = fields[1];
    auto label = label_of.find(wnid);
    if (label == label_of.end()) {
      throw DataError(line_ref(annotations, line.number) + ": unknown wnid '" +
                      wnid + "' (not in wnids.txt)");
    }
    if (present.count(file) == 0) {
      throw DataError(line_ref(annotations, line.number) +
                      ": annotated image " + join(image_dir, file) +
                      " not found");
    }
    auto [it, inserted] =
        annotation_of.emplace(file, Annotation{label->second, line.number});
    if (!inserted) {
      throw DataError(line_ref(annotations, line.number) +
                      ": second annotation of " + file + " (first on line " +
                      std::to_string(it->second.line) + ")");
    }
  }

  std::vector<Sample> samples;
  samples.reserve(files.size());
  for (const std::string& file : files) {
    auto it = annotation_of.find(file);
    if (it == annotation_of.end()) {
      throw DataError(join(image_dir, file) + ": no annotation in " +
                      annotations);
    }
    samples.push_back({join(image_dir, file), it->second.label});
  }
  return samples;
}

// Decodes `path` to 8-bit BGR, or sets `error`; the frame header is checked
// against `expected` (cols, rows) before decoding when that is given.
cv::Mat decode_bgr(const std::string& path, std::string& error,
                   std::pair<int, int> expected = {0, 0}) {
  return decode_image_bgr(path, ImageEncodings::kJpeg, error, expected);
}

// Decodes `path` into `out` (3×rows×cols planar RGB); returns the error
// message, or an empty string on success.
std::string decode_into(const std::string& path, int rows, int cols,
                        uint8_t* out) {
  std::string error;
  cv::Mat image = decode_bgr(path, error, {cols, rows});
  if (image.empty()) return error;
  if (image.rows != rows || image.cols != cols) {
    return path + ": image is " + std::to_string(image.cols) + "x" +
           std::to_string(image.rows) + " (width x height), expected " +
           std::to_string(cols) + "x" + std::to_string(rows) +
           " like the first image";
  }
  store_planar_rgb(image, out);
  return {};
}

}  // namespace

ImageDataset read_tiny_imagenet(const std::string& root, bool train) {
  require_directory(root, "Tiny ImageNet dataset directory");
  const std::string wnids_path = join(root, "wnids.txt");
  require_file(wnids_path, "Tiny ImageNet class list");
  const std::vector<NumberedLine> wnid_lines = read_numbered_lines(wnids_path);
  if (wnid_lines.empty()) throw DataError(wnids_path + ": lists no wnids");
  std::vector<std::string> wnids;
  std::unordered_map<std::string, int32_t> label_of;
  for (const NumberedLine& line : wnid_lines) {
    // A wnid becomes a directory name under train/: anything but a plain
    // name ("../../x") would read outside the dataset root.
    const bool plain =
        std::all_of(line.text.begin(), line.text.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '_' || c == '-';
        });
    if (!plain) {
      throw DataError(line_ref(wnids_path, line.number) + ": wnid '" +
                      line.text +
                      "' is not a plain name (letters, digits, '_', '-')");
    }
    auto [it, inserted] =
        label_of.emplace(line.text, static_cast<int32_t>(wnids.size()));
    if (!inserted) {
      throw DataError(line_ref(wnids_path, line.number) + ": duplicate wnid '" +
                      line.text + "'");
    }
    wnids.push_back(line.text);
  }

  const std::vector<Sample> samples =
      train ? train_samples(root, wnids) : val_samples(root, label_of);

  ImageDataset out;
  out.name = train ? "tiny_imagenet/train" : "tiny_imagenet/test";
  out.class_names = class_names_for(root, wnids, label_of);
  out.channels = 3;

  // The first image fixes the size every other one must have.
  std::string error;
  cv::Mat first = decode_bgr(samples[0].path, error);
  if (first.empty()) throw DataError(error);
  out.height = first.rows;
  out.width = first.cols;
  out.pixels.resize(samples.size() * static_cast<size_t>(out.image_bytes()));
  out.labels.resize(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) out.labels[i] = samples[i].label;
  store_planar_rgb(first, out.image(0));
  first.release();

  // Every worker writes only its own slots, so the pixels do not depend on
  // the thread count; errors are collected per slot and the first one in
  // file order is reported, so the message does not depend on it either.
  std::vector<std::string> errors(samples.size());
  tbb::parallel_for(tbb::blocked_range<size_t>(1, samples.size()),
                    [&](const tbb::blocked_range<size_t>& range) {
                      for (size_t i = range.begin(); i != range.end(); ++i) {
                        errors[i] =
                            decode_into(samples[i].path, out.height, out.width,
                                        out.image(static_cast<int64_t>(i)));
                      }
                    });
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!errors[i].empty()) throw DataError(errors[i]);
  }
  log::debug("read {}: {} images of {}x{} from {}", out.name, out.size(),
             out.height, out.width, root);
  return out;
}

}  // namespace adascale::datasets
