#!/usr/bin/env python3
"""The usual PyTorch training loop for CIFAR-10, timed over one epoch.

torchvision model (CIFAR-adapted as in model_latency.py), torchvision
transforms (RandomCrop 32 pad 4, RandomHorizontalFlip, ToTensor, Normalize)
through a DataLoader (batch 128, shuffle, drop_last), SGD (momentum 0.9,
nesterov, weight decay 5e-4), cross entropy: one epoch over the first
--images training images, data loading included. The best of 0 and 2
loader workers is reported (on 2 cores workers compete with compute).
--channels-last puts the model and every batch in NHWC memory, as the
C++ side's CIFAR configs do. Prints one JSON object. Run by
bench_training; usable alone.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
from torch.utils.data import DataLoader
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loader_throughput import InMemoryCifar, read_cifar10_train  # noqa: E402
from model_latency import MODELS  # noqa: E402


def one_epoch(model, loader, optimizer, criterion, memory_format):
    model.train()
    seen = 0
    start = time.perf_counter()
    for x, y in loader:
        x = x.contiguous(memory_format=memory_format)
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += x.shape[0]
    return seen, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="data/cifar-10-batches-bin")
    ap.add_argument("--models", default="mobilenet_v3_small,resnet18")
    ap.add_argument("--images", type=int, default=5120)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", default="0,2")
    ap.add_argument("--channels-last", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    memory_format = (torch.channels_last if args.channels_last
                     else torch.contiguous_format)
    torch.manual_seed(0)
    images, labels = read_cifar10_train(args.root)
    images, labels = images[: args.images], labels[: args.images]
    tf = transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    ])
    ds = InMemoryCifar(images, labels, tf)
    out = {"threads": args.threads, "images": len(ds), "batch": args.batch,
           "images_per_second": {}}
    for name in args.models.split(","):
        results = {}
        for workers in (int(w) for w in args.workers.split(",")):
            model = MODELS[name](10).to(memory_format=memory_format)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.05,
                                        momentum=0.9, nesterov=True,
                                        weight_decay=5e-4)
            loader = DataLoader(ds, batch_size=args.batch, shuffle=True,
                                drop_last=True, num_workers=workers)
            seen, seconds = one_epoch(model, loader, optimizer,
                                      nn.CrossEntropyLoss(), memory_format)
            results[f"workers_{workers}"] = seen / seconds
        best = max(results, key=results.get)
        out["images_per_second"][name] = {"by_workers": results,
                                          "best": results[best]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
