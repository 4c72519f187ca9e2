#pragma once
/// What one stage of multi-stage training did. The trainer reports it and
/// checkpoints carry the finished ones, so a resumed run reports every
/// stage, not only those its own process ran.

#include <cstdint>
#include <string>
#include <vector>

namespace adascale::training {

struct StageReport {
  /// 0-based; -1 = stage 0 of train.pretrain (the trunk with every exit).
  int stage = 0;
  int epochs = 0;
  bool reached_target = false;
  std::vector<std::string> heads;
  std::vector<double> top1;  ///< validation top-1 per head (train if no val)
  int trunk_choice = 0;
  /// Wall time of the stage, across resumes.
  double seconds = 0.0;
  /// Training images per second of the last epoch, data loading included.
  double images_per_second = 0.0;
  /// Peak resident memory while the stage trained (the paper's training
  /// memory); 0 where it could not be read.
  int64_t peak_rss_bytes = 0;
};

}  // namespace adascale::training
