#include "core/model_spec.h"

#include <fmt/format.h>

#include <set>

#include "core/config/node.h"
#include "core/config/schema.h"
#include "core/error.h"

namespace adascale::core {

namespace {

bool is_identifier(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

[[noreturn]] void fail(const std::string& source, const std::string& path,
                       const std::string& msg) {
  throw ConfigError(source + ": " + path + ": " + msg);
}

}  // namespace

void finalize_model_spec(ModelSpec& spec, const std::string& source) {
  if (!spec.elastic()) {
    if (!spec.stages.empty()) {
      fail(source, "stages",
           "only the elastic architecture has stages, got architecture '" +
               spec.architecture + "'");
    }
    return;
  }
  if (spec.stages.empty()) {
    fail(source, "stages", "the elastic architecture needs at least one stage");
  }
  if (spec.stages.size() > 10) {
    fail(source, "stages",
         "at most 10 stages (a variant key holds 6 bits per stage)");
  }
  int in = spec.stem.channels;
  for (size_t s = 0; s < spec.stages.size(); ++s) {
    StageSpec& stage = spec.stages[s];
    std::string path = fmt::format("stages[{}]", s);
    if (stage.candidates.empty()) {
      fail(source, path + ".candidates",
           "a stage needs at least one candidate");
    }
    if (stage.candidates.size() > 63) {
      fail(source, path + ".candidates", "at most 63 candidates per stage");
    }
    std::set<std::string> names;
    for (size_t c = 0; c < stage.candidates.size(); ++c) {
      CandidateSpec& cand = stage.candidates[c];
      std::string cpath = fmt::format("{}.candidates[{}]", path, c);
      // A resolved spec carries the values the stage set; anything else is
      // a user trying to override what the stage decides.
      bool foreign = (cand.op.in_channels != 0 && cand.op.in_channels != in) ||
                     (cand.op.out_channels != 0 &&
                      cand.op.out_channels != stage.out_channels) ||
                     (cand.op.stride != 1 && cand.op.stride != stage.stride);
      if (foreign) {
        fail(source, cpath,
             "in_channels, out_channels and stride are set by the stage; "
             "remove them");
      }
      if (cand.name.empty()) cand.name = cand.op.type;
      if (!is_identifier(cand.name)) {
        fail(source, cpath + ".name",
             "expected lower-case letters, digits and '_', got '" + cand.name +
                 "'");
      }
      if (!names.insert(cand.name).second) {
        fail(source, cpath + ".name",
             "'" + cand.name +
                 "' is already a candidate of this stage; give one a name");
      }
      if (cand.op.kernel % 2 == 0) {
        fail(source, cpath + ".kernel",
             fmt::format("must be odd, got {}", cand.op.kernel));
      }
      if (cand.depth == 0) cand.depth = stage.depth;
      cand.op.in_channels = in;
      cand.op.out_channels = stage.out_channels;
      cand.op.stride = stage.stride;
    }
    if (stage.backbone.empty()) stage.backbone = stage.candidates[0].name;
    if (!names.count(stage.backbone)) {
      fail(source, path + ".backbone",
           fmt::format("'{}' is not a candidate of this stage (candidates: {})",
                       stage.backbone, fmt::join(names, ", ")));
    }
    if (stage.exit_head == "pool") {
      if (stage.exit_channels != 0 &&
          stage.exit_channels != stage.out_channels) {
        fail(source, path + ".exit_channels",
             fmt::format("a pool exit head has the stage's {} channels, got {}",
                         stage.out_channels, stage.exit_channels));
      }
      stage.exit_channels = stage.out_channels;
    }
    if (stage.exit_channels == 0) stage.exit_channels = 2 * stage.out_channels;
    in = stage.out_channels;
  }
}

ModelSpec load_model_spec(const std::string& path,
                          const std::vector<std::string>& overrides) {
  config::Node tree = config::load_file(path);
  for (const auto& o : overrides) config::apply_override(tree, o);
  auto spec = config::Reader::read_struct<ModelSpec>(tree);
  finalize_model_spec(spec, path);
  return spec;
}

std::string model_spec_yaml(const ModelSpec& spec) {
  return config::to_yaml(config::Writer::write_struct(spec));
}

int exit_channels(const ModelSpec& spec, size_t stage) {
  const StageSpec& s = spec.stages.at(stage);
  if (s.exit_head == "pool") return s.out_channels;
  return s.exit_channels > 0 ? s.exit_channels : 2 * s.out_channels;
}

}  // namespace adascale::core
