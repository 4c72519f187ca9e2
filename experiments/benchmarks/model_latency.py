#!/usr/bin/python3
"""Forward latency of the torchvision counterparts of AdaScale's zoo models.

The usual Python way: torchvision's definitions with the same CIFAR changes
as the C++ zoo (3x3 stride-1 stem, no stem max-pool), eval mode, no_grad,
the same thread count and the same protocol as bench_models (warm-up, then
the median of repeats). Prints one JSON object. Run by bench_models; usable
alone:  /usr/bin/python3 experiments/benchmarks/model_latency.py --threads 2
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torchvision


def cifar_resnet18(classes):
    m = torchvision.models.resnet18(num_classes=classes)
    m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    m.maxpool = nn.Identity()
    return m


def cifar_mobilenet_v2(classes):
    m = torchvision.models.mobilenet_v2(num_classes=classes)
    m.features[0][0].stride = (1, 1)
    return m


def cifar_mobilenet_v3(name, classes):
    m = getattr(torchvision.models, name)(num_classes=classes)
    m.features[0][0].stride = (1, 1)
    return m


def cifar_shufflenet_v2(classes):
    m = torchvision.models.shufflenet_v2_x1_0(num_classes=classes)
    m.conv1[0] = nn.Conv2d(3, 24, 3, 1, 1, bias=False)
    m.maxpool = nn.Identity()
    return m


def cifar_squeezenet(version, classes):
    m = getattr(torchvision.models, "squeezenet" + version)(num_classes=classes)
    out = m.features[0].out_channels
    m.features[0] = nn.Conv2d(3, out, 3, 1, 1)
    m.features[2] = nn.Identity()  # the stem max-pool, as in the C++ zoo
    return m


def vit(classes):
    return torchvision.models.VisionTransformer(
        image_size=32, patch_size=4, num_layers=6, num_heads=8,
        hidden_dim=256, mlp_dim=512, num_classes=classes)


MODELS = {
    "resnet18": cifar_resnet18,
    "mobilenet_v2": cifar_mobilenet_v2,
    "mobilenet_v3_large": lambda c: cifar_mobilenet_v3("mobilenet_v3_large", c),
    "mobilenet_v3_small": lambda c: cifar_mobilenet_v3("mobilenet_v3_small", c),
    "shufflenet_v2": cifar_shufflenet_v2,
    "squeezenet1_0": lambda c: cifar_squeezenet("1_0", c),
    "squeezenet1_1": lambda c: cifar_squeezenet("1_1", c),
    "vit": vit,
}


def measure(fn, warmup, repeats, max_seconds):
    for _ in range(warmup):
        fn()
    samples = []
    start = time.perf_counter()
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e3)
        if len(samples) >= 3 and time.perf_counter() - start > max_seconds:
            break
    return statistics.median(samples)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--batches", default="1,128")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--max-seconds", type=float, default=8.0)
    p.add_argument("--classes", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = {"threads": args.threads, "torch": torch.__version__,
           "median_ms": {}, "params": {}}
    for name in args.models.split(","):
        model = MODELS[name](args.classes).eval()
        out["params"][name] = sum(p.numel() for p in model.parameters())
        out["median_ms"][name] = {}
        for batch in (int(b) for b in args.batches.split(",")):
            x = torch.randn(batch, 3, 32, 32)
            with torch.no_grad():
                ms = measure(lambda: model(x), 3 if batch == 1 else 1,
                             args.repeats, args.max_seconds)
            out["median_ms"][name][str(batch)] = ms
    print(json.dumps(out))


if __name__ == "__main__":
    main()
