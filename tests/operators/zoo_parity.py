#!/usr/bin/env python3
"""Writes the fixtures of zoo_parity_test.cpp: for every zoo architecture,
torchvision 0.14's model with the same CIFAR changes as ours (3x3 stride-1
stem, stem max-pool dropped, dropout off), every parameter randomised, a
seeded input and its train-mode output (batch statistics, so no BN buffers
need copying). The test loads the parameters into our model in order and
compares the outputs.

  /usr/bin/python3 tests/operators/zoo_parity.py /tmp/zoo_parity
  ADASCALE_ZOO_PARITY_DIR=/tmp/zoo_parity build/tests/operators_tests \
      --gtest_filter='ZooParity*'
"""
import os
import sys

import torch
import torchvision.models as M
from torch import nn


def cifar_model(name):
    if name == "resnet18":
        m = M.resnet18(num_classes=10)
        m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    elif name == "mobilenet_v2":
        m = M.mobilenet_v2(num_classes=10)
        m.features[0][0].stride = (1, 1)
        m.classifier[0].p = 0
    elif name.startswith("mobilenet_v3"):
        m = getattr(M, name)(num_classes=10)
        m.features[0][0].stride = (1, 1)
        m.classifier[2].p = 0
    elif name == "shufflenet_v2":
        m = M.shufflenet_v2_x1_0(num_classes=10)
        m.conv1[0].stride = (1, 1)
        m.maxpool = nn.Identity()
    elif name.startswith("squeezenet"):
        m = getattr(M, name)(num_classes=10)
        c = m.features[0].out_channels
        m.features[0] = nn.Conv2d(3, c, 3, 1, 1)
        m.features[2] = nn.Identity()
        m.classifier[0].p = 0
    elif name == "vit":
        m = M.VisionTransformer(image_size=32, patch_size=4, num_layers=6,
                                num_heads=8, hidden_dim=256, mlp_dim=512,
                                num_classes=10)
    else:
        raise ValueError(name)
    return m


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    for name in ["resnet18", "mobilenet_v2", "mobilenet_v3_large",
                 "mobilenet_v3_small", "shufflenet_v2", "squeezenet1_0",
                 "squeezenet1_1", "vit"]:
        m = cifar_model(name)
        named = list(m.named_parameters())
        # Random values everywhere, so zero inits (ViT head, BN bias) hide
        # nothing.
        with torch.no_grad():
            for key, p in named:
                if p.dim() > 1:
                    p.normal_(0, 0.05)
                elif key.endswith("weight"):
                    p.uniform_(0.5, 1.5)
                else:
                    p.normal_(0, 0.1)
        if name == "vit":
            # Our module's own parameters come before its submodules'.
            first = ["class_token", "encoder.pos_embedding",
                     "conv_proj.weight", "conv_proj.bias"]
            d = dict(named)
            named = [(k, d[k]) for k in first] + \
                [(k, p) for k, p in named if k not in first]
        m.train()
        x = torch.randn(4, 3, 32, 32)
        with torch.no_grad():
            y = m(x)
        torch.save({"names": [k for k, _ in named],
                    "params": [p.detach().clone() for _, p in named],
                    "x": x, "y": y},
                   os.path.join(out_dir, name + ".pt"))
        print(name, len(named), "parameters")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/zoo_parity")
