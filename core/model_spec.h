#pragma once
/// What network to build (DESIGN §3.2): the elastic net's stem, stages,
/// candidates and exits, or one of the baseline zoo architectures. Pure data,
/// read from `configs/models/*.yaml` and validated once.

#include <optional>
#include <string>
#include <vector>

#include "core/config/checks.h"
#include "core/operator_spec.h"

namespace adascale::core {

/// One candidate operator of a stage: an operator spec plus a name that is
/// unique within its stage and used in variant ids ("e3:basic.ghost.dws").
struct CandidateSpec {
  /// Name in variant ids; defaults to the operator type. [a-z0-9_]+
  std::string name;
  /// Blocks of this candidate; 0 = the stage's depth (NAS depth).
  int depth = 0;
  /// The operator (in/out channels and stride come from the stage).
  OperatorSpec op;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("name", name, "name in variant ids (default: the type)");
    v("depth", depth, check::in_range(0, 64), "blocks (0 = stage depth)");
    op.visit(v);  // operator fields sit beside name and depth
  }
};

/// One stage: `depth` blocks of the chosen candidate, the first with stride
/// `stride`, then an exit head.
struct StageSpec {
  int out_channels = 64;
  int stride = 1;
  int depth = 1;
  /// Name of the candidate that later stages are trained on (the trunk).
  std::string backbone;
  /// Exit head: conv (3×3 stride-2 conv → BN → ReLU → pool → dropout →
  /// linear) or pool (pool → dropout → linear, the paper's streamlined
  /// branch: no weights but the classifier).
  std::string exit_head = "conv";
  /// Channels of the exit head's 3×3 convolution; 0 = 2 × out_channels.
  /// A pool head has the stage's channels.
  int exit_channels = 0;
  std::vector<CandidateSpec> candidates;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("out_channels", out_channels, check::in_range(1, 1 << 16));
    v("stride", stride, check::in_range(1, 4), "stride of the first block");
    v("depth", depth, check::in_range(1, 64), "blocks per candidate");
    v("backbone", backbone, "trunk candidate (default: the first)");
    v("exit_head", exit_head, check::one_of({"conv", "pool"}),
      "conv: 3x3 stride-2 conv before pool+linear; pool: pool+linear");
    v("exit_channels", exit_channels, check::in_range(0, 1 << 16));
    v("candidates", candidates, "operators to choose from");
  }
};

/// The stem: conv k×k → BN → activation.
struct StemSpec {
  int channels = 32;
  int kernel = 3;
  int stride = 1;
  std::string act = "relu";

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("channels", channels, check::in_range(1, 1 << 16));
    v("kernel", kernel, check::in_range(1, 11));
    v("stride", stride, check::in_range(1, 4));
    v("act", act, check::one_of({"relu", "relu6", "hswish", "silu", "gelu"}));
  }
};

/// Shape of the small vision transformer of the zoo (architecture: vit).
struct VitSpec {
  int patch = 4;
  int dim = 256;
  int depth = 6;
  int heads = 8;
  int mlp_dim = 512;
  double dropout = 0.0;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("patch", patch, check::in_range(1, 64), "patch side in pixels");
    v("dim", dim, check::in_range(8, 1 << 14), "token width");
    v("depth", depth, check::in_range(1, 64), "encoder layers");
    v("heads", heads, check::in_range(1, 64), "attention heads");
    v("mlp_dim", mlp_dim, check::in_range(8, 1 << 16), "MLP hidden width");
    v("dropout", dropout, check::in_range(0.0, 0.9));
  }
};

/// `model:` section, or a whole `configs/models/*.yaml` file.
struct ModelSpec {
  std::string name = "model";
  /// elastic | resnet18 | mobilenet_v2 | mobilenet_v3_large |
  /// mobilenet_v3_small | shufflenet_v2 | squeezenet1_0 | squeezenet1_1 | vit
  std::string architecture = "elastic";
  int in_channels = 3;
  /// Input side in pixels (NAS resolution).
  int resolution = 32;
  int classes = 10;
  /// Global width multiplier (zoo models that define one, e.g. MobileNets).
  double width = 1.0;
  /// Dropout before every exit's (or the classifier's) linear layer.
  double dropout = 0.2;
  StemSpec stem;
  std::vector<StageSpec> stages;
  VitSpec vit;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("name", name, "model name");
    v("architecture", architecture,
      check::one_of({"elastic", "resnet18", "mobilenet_v2",
                     "mobilenet_v3_large", "mobilenet_v3_small",
                     "shufflenet_v2", "squeezenet1_0", "squeezenet1_1",
                     "vit"}));
    v("in_channels", in_channels, check::in_range(1, 16));
    v("resolution", resolution, check::in_range(4, 4096), "input side");
    v("classes", classes, check::in_range(2, 100000));
    v("width", width, check::in_range(0.1, 4.0), "zoo width multiplier");
    v("dropout", dropout, check::in_range(0.0, 0.9), "before the linear");
    v("stem", stem);
    v("stages", stages, "elastic net stages");
    v("vit", vit);
  }

  bool elastic() const { return architecture == "elastic"; }
};

/// Fills defaults that depend on other fields (candidate names, backbone,
/// exit channels, block channels and strides) and checks what one field
/// alone cannot: unique candidate names, a known backbone, a stage list for
/// the elastic net and none for zoo models. `source` names the file in
/// errors. Throws ConfigError.
void finalize_model_spec(ModelSpec& spec, const std::string& source);

/// Reads a model file (with `include:` and `--set` overrides), then
/// finalize_model_spec(). Throws ConfigError / IoError.
ModelSpec load_model_spec(const std::string& path,
                          const std::vector<std::string>& overrides = {});

/// The spec written back as YAML (resolved, every default explicit).
std::string model_spec_yaml(const ModelSpec& spec);

/// Channels of stage `s`'s exit head after finalize_model_spec().
int exit_channels(const ModelSpec& spec, size_t stage);

}  // namespace adascale::core
