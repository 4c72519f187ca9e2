#pragma once
/// BatchNorm folding for inference (paper §III-A1, "mathematical
/// decomposition techniques employ batch normalization"; Jacob et al.,
/// "Quantization and Training of Neural Networks for Efficient
/// Integer-Arithmetic-Only Inference", CVPR 2018, §3.2): an eval-mode
/// conv → BN equals one biased convolution, W' = W·γ/√(σ²+ε) and
/// b' = (b − μ)·γ/√(σ²+ε) + β, per output channel.

#include <torch/torch.h>

namespace adascale::operators {

/// A new convolution (with bias, same options otherwise, on the weight's
/// device and dtype) equal to bn(conv(x)) with `bn` in eval mode. Works for
/// grouped and depthwise convolutions, with or without a bias, and BN with
/// or without affine parameters. Throws ConfigError when the BN has no
/// running statistics or its features differ from the conv's out_channels.
torch::nn::Conv2d fold_batch_norm(const torch::nn::Conv2d& conv,
                                  const torch::nn::BatchNorm2d& bn);

/// Folds every ConvBnAct in the tree under `root` (root included) through
/// ConvBnActImpl::fold(); returns how many it folded. The eval-mode output
/// is unchanged; call it on a trained model that will only run inference.
/// Other conv → BN pairs (shortcut projections, pre-activation layers) are
/// left as they are.
int fold_batch_norms(torch::nn::Module& root);

}  // namespace adascale::operators
