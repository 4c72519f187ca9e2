#include "search/intrinsic_profiler.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>

#include "tests/test_util.h"

namespace adascale::search {
namespace {

namespace nn = torch::nn;
using Shape = std::vector<int64_t>;

/// The single layer of `p`, by value (callers pass temporaries).
LayerProfile only_layer(const ModelProfile& p) {
  EXPECT_EQ(p.layers.size(), 1u);
  return p.layers.at(0);
}

TEST(IntrinsicProfiler, Conv3x3WithBiasStride2Padding1) {
  nn::Conv2d conv(nn::Conv2dOptions(3, 8, 3).stride(2).padding(1));
  auto p = profile(conv, {1, 3, 8, 8});
  const auto& l = only_layer(p);
  // Output 1×8×4×4: (8 + 2·1 − 3) / 2 + 1 = 4 → 128 elements.
  EXPECT_EQ(l.kind, "conv2d");
  EXPECT_EQ(l.name, "conv2d");
  EXPECT_EQ(l.input_shape, (Shape{1, 3, 8, 8}));
  EXPECT_EQ(l.output_shape, (Shape{1, 8, 4, 4}));
  // params = 8·3·3·3 + 8 = 216 + 8.
  EXPECT_EQ(l.params, 224);
  // MACs = 128 outputs × 3 in-channels × 9 = 3456.
  EXPECT_EQ(l.macs, 3456);
  // FLOPs = 2·3456 + 128 bias adds.
  EXPECT_EQ(l.flops, 7040);
  // eq. 4: (input 192 + output 128 + weights 216 + bias 8) × 4 B = 2176.
  EXPECT_EQ(l.memory_access_bytes, 2176);
  EXPECT_EQ(l.weight_bytes, 224 * 4);
  EXPECT_EQ(l.activation_bytes, 128 * 4);
  EXPECT_EQ(p.params, 224);
  EXPECT_EQ(p.macs, 3456);
  EXPECT_EQ(p.memory_access_bytes, 2176);
  EXPECT_EQ(p.storage_fp32_bytes, 224 * 4);
  // int8: 216 weights × 1 B + 8 biases × 4 B.
  EXPECT_EQ(p.storage_int8_bytes, 216 + 32);
  // peak = (192 + 128) × 4.
  EXPECT_EQ(p.peak_activation_bytes, 1280);
  EXPECT_EQ(p.output_shape, (Shape{1, 8, 4, 4}));
  EXPECT_TRUE(p.unmodelled_ops.empty());
}

TEST(IntrinsicProfiler, Conv3x3WithoutBias) {
  nn::Conv2d conv(nn::Conv2dOptions(3, 8, 3).stride(2).padding(1).bias(false));
  const auto& l = only_layer(profile(conv, {1, 3, 8, 8}));
  EXPECT_EQ(l.params, 216);
  EXPECT_EQ(l.macs, 3456);
  // No bias: FLOPs = 2·MACs.
  EXPECT_EQ(l.flops, 6912);
  // (192 + 128 + 216) × 4.
  EXPECT_EQ(l.memory_access_bytes, 2144);
}

TEST(IntrinsicProfiler, DepthwiseConv) {
  nn::Conv2d conv(nn::Conv2dOptions(4, 4, 3).padding(1).groups(4).bias(false));
  const auto& l = only_layer(profile(conv, {2, 4, 6, 6}));
  // Output 2×4×6×6 = 288 elements, each reading in_channels/groups = 1
  // channel × 9 taps: MACs = 288 · 1 · 9.
  EXPECT_EQ(l.macs, 2592);
  // params = 4 · 1 · 3 · 3.
  EXPECT_EQ(l.params, 36);
  // (input 288 + output 288 + weights 36) × 4.
  EXPECT_EQ(l.memory_access_bytes, 2448);
}

TEST(IntrinsicProfiler, Linear) {
  nn::Linear fc(16, 10);
  const auto& l = only_layer(profile(fc, {4, 16}));
  EXPECT_EQ(l.kind, "linear");
  // Output 4×10 = 40 elements × 16 inputs each.
  EXPECT_EQ(l.macs, 640);
  // 16·10 + 10.
  EXPECT_EQ(l.params, 170);
  // 2·640 + 40 bias adds.
  EXPECT_EQ(l.flops, 1320);
  // (input 64 + output 40 + weights 160 + bias 10) × 4.
  EXPECT_EQ(l.memory_access_bytes, 1096);
}

TEST(IntrinsicProfiler, LinearOnA3dInputIsOneLayer) {
  // LibTorch lowers this to matmul + add_ (or addmm on a 2-D view); either
  // way it is one linear layer.
  nn::Linear fc(16, 10);
  const auto& l = only_layer(profile(fc, {2, 5, 16}));
  EXPECT_EQ(l.kind, "linear");
  EXPECT_EQ(l.name, "linear");
  EXPECT_EQ(l.output_shape, (Shape{2, 5, 10}));
  // 100 outputs × 16.
  EXPECT_EQ(l.macs, 1600);
  EXPECT_EQ(l.params, 170);
  EXPECT_EQ(l.flops, 3200 + 100);
  // (input 160 + output 100 + weights 160 + bias 10) × 4.
  EXPECT_EQ(l.memory_access_bytes, 1720);
}

TEST(IntrinsicProfiler, MaxAndAveragePooling) {
  nn::MaxPool2d max_pool(nn::MaxPool2dOptions(2).stride(2));
  const auto& m = only_layer(profile(max_pool, {1, 3, 8, 8}));
  EXPECT_EQ(m.kind, "max_pool2d");
  EXPECT_EQ(m.output_shape, (Shape{1, 3, 4, 4}));
  EXPECT_EQ(m.macs, 0);
  EXPECT_EQ(m.params, 0);
  // 48 outputs × 2·2 kernel elements.
  EXPECT_EQ(m.flops, 192);
  // (input 192 + output 48) × 4, no weights.
  EXPECT_EQ(m.memory_access_bytes, 960);

  nn::AvgPool2d avg_pool(nn::AvgPool2dOptions(3).stride(1).padding(1));
  const auto& a = only_layer(profile(avg_pool, {1, 2, 5, 5}));
  EXPECT_EQ(a.kind, "avg_pool2d");
  // 50 outputs × 3·3.
  EXPECT_EQ(a.flops, 450);
  // (50 + 50) × 4.
  EXPECT_EQ(a.memory_access_bytes, 400);
}

TEST(IntrinsicProfiler, AdaptivePoolingCountsExactBins) {
  nn::AdaptiveAvgPool2d global(1);
  // One 4×4 bin per channel: 8 · 16 reads.
  EXPECT_EQ(only_layer(profile(global, {1, 8, 4, 4})).flops, 128);
  nn::AdaptiveAvgPool2d two(2);
  // 5 → 2 bins per dim: [0, 3) and [2, 5), 3 + 3 = 6 per dim → 6 · 6.
  EXPECT_EQ(only_layer(profile(two, {1, 1, 5, 5})).flops, 36);
}

nn::Sequential small_net() {
  return nn::Sequential(
      nn::Conv2d(nn::Conv2dOptions(3, 4, 3).padding(1).bias(false)),
      nn::BatchNorm2d(4), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
      nn::Linear(64, 10));
}

TEST(IntrinsicProfiler, SequentialTotals) {
  auto net = small_net();
  auto p = profile(net, {2, 3, 8, 8});
  // Input 2×3×8×8 = 384. Flatten is a view and folds away.
  ASSERT_EQ(p.layers.size(), 5u);
  std::vector<std::string> names, kinds;
  for (const auto& l : p.layers) {
    names.push_back(l.name);
    kinds.push_back(l.kind);
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"0", "1", "relu", "max_pool2d", "5"}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"conv2d", "batch_norm", "relu",
                                             "max_pool2d", "linear"}));
  const auto& conv = p.layers[0];
  const auto& bn = p.layers[1];
  const auto& relu = p.layers[2];
  const auto& pool = p.layers[3];
  const auto& fc = p.layers[4];
  // conv: out 2×4×8×8 = 512; MACs 512 · 27; MA (384 + 512 + 108) × 4.
  EXPECT_EQ(conv.macs, 13824);
  EXPECT_EQ(conv.params, 108);
  EXPECT_EQ(conv.memory_access_bytes, 4016);
  // bn: 2 FLOPs per element; reads γ, β, mean, var (4 each):
  // (512 + 512 + 16) × 4.
  EXPECT_EQ(bn.params, 8);
  EXPECT_EQ(bn.flops, 1024);
  EXPECT_EQ(bn.memory_access_bytes, 4160);
  // relu: 512 FLOPs; (512 + 512) × 4.
  EXPECT_EQ(relu.flops, 512);
  EXPECT_EQ(relu.memory_access_bytes, 4096);
  // pool: out 2×4×4×4 = 128, ×4 taps; (512 + 128) × 4.
  EXPECT_EQ(pool.flops, 512);
  EXPECT_EQ(pool.memory_access_bytes, 2560);
  // linear 64 → 10 on 2 rows: 20 · 64 MACs; (128 + 20 + 640 + 10) × 4.
  EXPECT_EQ(fc.input_shape, (Shape{2, 64}));
  EXPECT_EQ(fc.macs, 1280);
  EXPECT_EQ(fc.flops, 2580);
  EXPECT_EQ(fc.memory_access_bytes, 3192);

  // params 108 + 8 + 650; buffers: running mean and var (num_batches_tracked
  // is not read in eval).
  EXPECT_EQ(p.params, 766);
  EXPECT_EQ(p.buffer_elements, 8);
  EXPECT_EQ(p.macs, 15104);
  // 27648 + 1024 + 512 + 512 + 2580.
  EXPECT_EQ(p.flops, 32276);
  // 4016 + 4160 + 4096 + 2560 + 3192.
  EXPECT_EQ(p.memory_access_bytes, 18024);
  // (766 + 8) × 4.
  EXPECT_EQ(p.storage_fp32_bytes, 3096);
  // weights 108 + 640 at 1 B; BN γβ 8, bias 10, buffers 8 at 4 B.
  EXPECT_EQ(p.storage_int8_bytes, 748 + 26 * 4);
  // outputs (512 + 512 + 512 + 128 + 20) × 4.
  EXPECT_EQ(p.activation_bytes, 6736);
  // bn and relu: (512 + 512) × 4.
  EXPECT_EQ(p.peak_activation_bytes, 4096);
  EXPECT_EQ(p.output_shape, (Shape{2, 10}));
}

TEST(IntrinsicProfiler, BatchSizeScalesMacsLinearly) {
  auto net = small_net();
  auto one = profile(net, {1, 3, 8, 8});
  auto four = profile(net, {4, 3, 8, 8});
  EXPECT_EQ(four.macs, 4 * one.macs);
  EXPECT_EQ(four.flops, 4 * one.flops);
  EXPECT_EQ(four.activation_bytes, 4 * one.activation_bytes);
  EXPECT_EQ(four.params, one.params);
  EXPECT_EQ(four.storage_fp32_bytes, one.storage_fp32_bytes);
}

/// Two independent paths; forward(x, path) runs one of them.
struct TwoPathImpl : nn::Module {
  TwoPathImpl() {
    a = register_module("a", nn::Conv2d(nn::Conv2dOptions(3, 8, 3)));
    b = register_module("b", nn::Conv2d(nn::Conv2dOptions(3, 16, 1)));
  }
  torch::Tensor forward(torch::Tensor x, int path) {
    return path == 0 ? a(x) : b(x);
  }
  nn::Conv2d a{nullptr}, b{nullptr};
};
TORCH_MODULE(TwoPath);

TEST(IntrinsicProfiler, MultiPathModuleCountsOnlyTheTracedPath) {
  TwoPath net;
  auto pa = profile(
      *net, [&](torch::Tensor x) { return net->forward(x, 0); },
      Shape{1, 3, 8, 8});
  auto pb = profile(
      *net, [&](torch::Tensor x) { return net->forward(x, 1); },
      Shape{1, 3, 8, 8});
  // a: 8·3·9 + 8; b: 16·3 + 16; the module holds both (288).
  EXPECT_EQ(pa.params, 224);
  EXPECT_EQ(pb.params, 64);
  EXPECT_EQ(pa.layers.at(0).name, "a");
  EXPECT_EQ(pb.layers.at(0).name, "b");
  // a: 1×8×6×6 outputs × 27; b: 1×16×8×8 outputs × 3.
  EXPECT_EQ(pa.macs, 288 * 27);
  EXPECT_EQ(pb.macs, 1024 * 3);
}

TEST(IntrinsicProfiler, RestoresModesAndRequiresGradAndLeavesStatsAlone) {
  auto net = small_net();
  net->train();
  net[1]->eval();  // a frozen BN inside a training net
  auto& bn = *net[1]->as<nn::BatchNorm2d>();
  bn.weight.set_requires_grad(false);
  auto mean_before = bn.running_mean.clone();
  auto tracked_before = bn.num_batches_tracked.item<int64_t>();

  profile(net, {2, 3, 8, 8});

  EXPECT_TRUE(net->is_training());
  EXPECT_FALSE(net[1]->is_training());
  EXPECT_TRUE(net[0]->is_training());
  EXPECT_TRUE(net[5]->is_training());
  EXPECT_FALSE(bn.weight.requires_grad());
  EXPECT_TRUE(bn.bias.requires_grad());
  for (const auto& p : net->parameters()) {
    if (!p.is_same(bn.weight)) {
      EXPECT_TRUE(p.requires_grad());
    }
  }
  EXPECT_TRUE(torch::equal(bn.running_mean, mean_before));
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), tracked_before);

  net->eval();
  profile(net, {2, 3, 8, 8});
  EXPECT_FALSE(net->is_training());
  EXPECT_FALSE(net[0]->is_training());
}

TEST(IntrinsicProfiler, MatmulAndNamesOfParameterFreeLayers) {
  // x @ xᵀ on 2×3×4: out 2×3×3 = 18 elements, contracted dim 4.
  auto fn = [](torch::Tensor x) {
    return torch::softmax(torch::matmul(x, x.transpose(1, 2)), -1);
  };
  nn::Identity id;
  auto p = profile(*id, fn, Shape{2, 3, 4});
  ASSERT_EQ(p.layers.size(), 2u);
  EXPECT_EQ(p.layers[0].kind, "matmul");
  EXPECT_EQ(p.layers[0].macs, 72);
  // Reads x and its transposed view (24 + 24), writes 18.
  EXPECT_EQ(p.layers[0].memory_access_bytes, (24 + 24 + 18) * 4);
  EXPECT_EQ(p.layers[1].kind, "softmax");
  EXPECT_EQ(p.layers[1].flops, 3 * 18);
}

TEST(IntrinsicProfiler, ResidualBlockNamesFollowTheModules) {
  struct BlockImpl : nn::Module {
    BlockImpl() {
      conv = register_module("conv",
                             nn::Conv2d(nn::Conv2dOptions(4, 4, 3).padding(1)));
    }
    torch::Tensor forward(torch::Tensor x) { return torch::relu(conv(x) + x); }
    nn::Conv2d conv{nullptr};
  };
  nn::Sequential net;
  net->push_back("block", std::make_shared<BlockImpl>());
  net->push_back("head", nn::Linear(4, 2));
  auto fn = [&](torch::Tensor x) {
    return net[1]->as<nn::Linear>()->forward(
        net[0]->as<BlockImpl>()->forward(x).mean({2, 3}));
  };
  auto p = profile(*net, fn, Shape{1, 4, 5, 5});
  std::vector<std::string> names;
  for (const auto& l : p.layers) names.push_back(l.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"block.conv", "block.add", "block.relu",
                                      "block.mean", "head"}));
  // The add reads both 100-element operands and writes 100.
  EXPECT_EQ(p.layers[1].flops, 100);
  EXPECT_EQ(p.layers[1].memory_access_bytes, 300 * 4);
  // mean: one add per input element.
  EXPECT_EQ(p.layers[3].flops, 100);
}

TEST(IntrinsicProfiler, UnknownOpsAreListedNotSilentlyZero) {
  nn::Identity id;
  auto p = profile(
      *id, [](torch::Tensor x) { return torch::cumsum(x, 1); }, Shape{2, 5});
  ASSERT_EQ(p.layers.size(), 1u);
  EXPECT_EQ(p.layers[0].kind, "cumsum");
  EXPECT_EQ(p.layers[0].memory_access_bytes, 80);
  EXPECT_EQ(p.unmodelled_ops, (std::vector<std::string>{"aten::cumsum"}));
}

TEST(IntrinsicProfiler, UntraceableModulesGiveAClearError) {
  // A tensor that requires grad but is no parameter cannot enter the trace.
  auto hidden = torch::ones({1}, torch::requires_grad());
  nn::Identity id;
  EXPECT_THROW_WITH(
      profile(
          *id, [&](torch::Tensor x) { return x * hidden; }, Shape{2, 2}),
      ProfileError, "cannot trace the module for input [2, 2]");
  EXPECT_THROW_WITH(
      profile(
          *id, [](torch::Tensor) { return torch::Tensor(); }, Shape{2}),
      ProfileError, "undefined tensor");
  EXPECT_THROW_WITH(profile(
                        *id, [](torch::Tensor x) { return x; }, Shape{0}),
                    ProfileError, "positive sizes");
  // The failed traces left no tracing state behind.
  nn::Linear fc(2, 3);
  EXPECT_EQ(profile(fc, {1, 2}).macs, 6);
}

TEST(IntrinsicProfiler, AnyModuleConvenience) {
  nn::AnyModule any(nn::Linear(16, 10));
  EXPECT_EQ(profile(any, {4, 16}).macs, 640);
}

// CIFAR ResNet18 (He et al. 2016, CIFAR variant: 3×3 stride-1 stem, no
// max-pool), written from plain torch::nn modules.
struct BasicBlockImpl : nn::Module {
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3)
                                                    .stride(stride)
                                                    .padding(1)
                                                    .bias(false)));
    bn1 = register_module("bn1", nn::BatchNorm2d(out));
    conv2 = register_module(
        "conv2",
        nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)));
    bn2 = register_module("bn2", nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      shortcut = register_module(
          "shortcut",
          nn::Sequential(
              nn::Conv2d(
                  nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
              nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    auto y = torch::relu(bn1(conv1(x)));
    y = bn2(conv2(y));
    return torch::relu(y + (shortcut ? shortcut->forward(x) : x));
  }
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(BasicBlock);

struct ResNet18Impl : nn::Module {
  ResNet18Impl() {
    conv1 = register_module(
        "conv1",
        nn::Conv2d(nn::Conv2dOptions(3, 64, 3).padding(1).bias(false)));
    bn1 = register_module("bn1", nn::BatchNorm2d(64));
    int64_t in = 64;
    const int64_t widths[] = {64, 128, 256, 512};
    for (int s = 0; s < 4; ++s) {
      nn::Sequential layer;
      for (int b = 0; b < 2; ++b) {
        layer->push_back(BasicBlock(in, widths[s], b == 0 && s > 0 ? 2 : 1));
        in = widths[s];
      }
      layers.push_back(register_module("layer" + std::to_string(s + 1), layer));
    }
    fc = register_module("fc", nn::Linear(512, 10));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(bn1(conv1(x)));
    for (auto& layer : layers) x = layer->forward(x);
    x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    return fc(x);
  }
  nn::Conv2d conv1{nullptr};
  nn::BatchNorm2d bn1{nullptr};
  std::vector<nn::Sequential> layers;
  nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNet18);

TEST(IntrinsicProfiler, CifarResNet18) {
  ResNet18 net;
  auto start = std::chrono::steady_clock::now();
  auto p = profile(net, {1, 3, 32, 32});
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  RecordProperty("profile_ms", std::to_string(ms));
  // Σ over the 20 convolutions of out_h·out_w·Cout·Cin·k² plus 512·10:
  // 555,417,600 + 5,120 (computed by hand from the architecture).
  EXPECT_EQ(p.macs, 555422720);
  EXPECT_GE(p.macs, 555'000'000);
  EXPECT_LE(p.macs, 560'000'000);
  // The well-known 11.17M: 20 convs 11,159,232 (3 of them 1×1 shortcuts),
  // BN γ and β for 4,800 channels 9,600, fc 512·10 + 10 = 5,130.
  EXPECT_EQ(p.params, 11173962);
  int64_t all_params = 0;
  for (const auto& t : net->parameters()) all_params += t.numel();
  EXPECT_EQ(p.params, all_params);
  EXPECT_EQ(p.output_shape, (Shape{1, 10}));
  EXPECT_TRUE(p.unmodelled_ops.empty());
  int convs = 0;
  for (const auto& l : p.layers) convs += l.kind == "conv2d";
  EXPECT_EQ(convs, 20);
  EXPECT_EQ(p.layers.front().name, "conv1");
  EXPECT_EQ(p.layers.back().name, "fc");
  bool found = false;
  for (const auto& l : p.layers) {
    found |= l.name == "layer2.0.shortcut.0" && l.kind == "conv2d";
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace adascale::search
