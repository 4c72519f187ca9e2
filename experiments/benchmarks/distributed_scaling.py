#!/usr/bin/python3
"""PyTorch's DistributedDataParallel on ResNet18, timed: the Python side of
bench_distributed (experiments/benchmarks/distributed_scaling.cpp).

torchvision ResNet18 with the same CIFAR changes as the C++ zoo (3x3
stride-1 stem, no max-pool, model_latency.py), SGD, cross entropy on a
fixed random batch of 32x32 images (as the C++ worker), 2 warm-up steps,
then --steps timed steps. Under torchrun (RANK set) the model is wrapped in
DistributedDataParallel over Gloo and --batch is per rank; alone it is
plain training. Rank 0 prints one JSON object with the global images/s.

  OMP_NUM_THREADS=1 torchrun --redirects 2 --tee 2 --nproc_per_node=2 \\
      experiments/benchmarks/distributed_scaling.py --threads 1 --batch 32
  /usr/bin/python3 experiments/benchmarks/distributed_scaling.py --threads 2 --batch 64
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_latency import cifar_resnet18  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=32, help="per rank")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--classes", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    distributed = "RANK" in os.environ
    world, rank = 1, 0
    if distributed:
        dist.init_process_group("gloo")
        world, rank = dist.get_world_size(), dist.get_rank()
    torch.manual_seed(0)
    model = cifar_resnet18(args.classes)
    if distributed:
        model = nn.parallel.DistributedDataParallel(model)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                                weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()
    torch.manual_seed(1 + rank)
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(args.classes, (args.batch,))
    start = time.perf_counter()
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            start = time.perf_counter()
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    if rank == 0:
        print(json.dumps({
            "ranks": world, "threads": args.threads,
            "batch_per_rank": args.batch, "torch": torch.__version__,
            "images_per_second": args.steps * args.batch * world / seconds,
            "step_seconds": seconds / args.steps}))
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
