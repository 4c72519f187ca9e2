#!/usr/bin/env python3
"""The usual PyTorch input pipeline for CIFAR-10 training, timed.

Reads the official binary batches into memory (uint8, HWC, as
torchvision.datasets.CIFAR10 holds them), then times torchvision transforms
(RandomCrop 32 pad 4, RandomHorizontalFlip, ToTensor, Normalize) through a
DataLoader (batch 128, shuffle, drop_last) with 0 and 2 workers.
Prints one JSON object. Run by loader_throughput (the C++ benchmark).
"""
import argparse
import json
import os
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class InMemoryCifar(Dataset):
    """Same access pattern as torchvision.datasets.CIFAR10."""

    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def read_cifar10_train(root):
    records = []
    for k in range(1, 6):
        raw = np.fromfile(os.path.join(root, f"data_batch_{k}.bin"), dtype=np.uint8)
        records.append(raw.reshape(-1, 3073))
    raw = np.concatenate(records)
    labels = raw[:, 0].astype(np.int64)
    images = raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    return images, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="data/cifar-10-batches-bin")
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = read_cifar10_train(args.root)
    tf = transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    ])
    ds = InMemoryCifar(images, labels, tf)
    results = {}
    for workers in (0, 2):
        loader = DataLoader(ds, batch_size=128, shuffle=True, drop_last=True,
                            num_workers=workers, persistent_workers=False)
        seen = 0
        start = time.perf_counter()
        for i, (x, y) in enumerate(loader):
            seen += x.shape[0]
            if i + 1 == args.batches:
                break
        elapsed = time.perf_counter() - start
        results[f"workers_{workers}"] = seen / elapsed
    best = max(results, key=results.get)
    print(json.dumps({"images_per_second": results, "best": best,
                      "best_images_per_second": results[best],
                      "batches": args.batches}))


if __name__ == "__main__":
    main()
