#pragma once
/// Reader for Tiny ImageNet (Le and Yang, "Tiny ImageNet Visual Recognition
/// Challenge", CS231N 2015): 200 ImageNet classes of 64×64 JPEGs in the
/// folder layout of the official `tiny-imagenet-200.zip`.

#include <string>

#include "datasets/image_dataset.h"

namespace adascale::datasets {

/// Reads Tiny ImageNet from `root` and decodes every image with OpenCV
/// (IMREAD_COLOR, so grey JPEGs become 3 channels) into planar RGB, 3×H×W.
/// Class `i` is line `i` of `wnids.txt` (any number ≥ 1 of distinct wnids); its
/// name is the text after the tab on its line of `words.txt`, or the wnid
/// itself when words.txt lacks it or is absent. The train split (`train` true,
/// named "tiny_imagenet/train") is `train/<wnid>/images/*.JPEG`, class by
/// class, each class sorted by file name. The test split ("tiny_imagenet/test")
/// is the official validation set: `val/images/*.JPEG` sorted by file name,
/// labelled by `val/val_annotations.txt` (lines
/// `file<TAB>wnid<TAB>x<TAB>y<TAB>w<TAB>h`). File extensions match
/// case-insensitively (.JPEG, .jpeg, .jpg). Every image must have the size of
/// the first one. Decoding runs in parallel (TBB); the result does not depend
/// on the thread count. Throws DataError naming the file, directory or line for
/// a missing wnids.txt or directory, a class without images, an unreadable,
/// empty or truncated image, an image of another size, an annotation naming an
/// unknown wnid or a missing image, and an image without annotation.
ImageDataset read_tiny_imagenet(const std::string& root, bool train);

}  // namespace adascale::datasets
