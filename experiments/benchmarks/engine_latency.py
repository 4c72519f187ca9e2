"""Python side of bench_engine: the same trained weights run by Python
PyTorch, eager and with PyTorch's own inference optimisation.

bench_engine writes, per exit, the trunk variant traced to TorchScript
(`exitK.pt`, every parameter of the net as an attribute) and `arch.json`
(strides and activations, which weights do not carry). This script rebuilds
each trunk variant as ordinary eager nn.Modules (the usual Python way),
loads the weights by name, checks its logits against the traced module, and
times at batch 1:
  - eager:     the nn.Module, torch.inference_mode()
  - optimized: torch.jit.optimize_for_inference(torch.jit.freeze(traced))
  - mobile:    torch.utils.mobile_optimizer.optimize_for_mobile(
                   torch.jit.freeze(traced)) on a channels-last input (the
               XNNPACK path; its convolutions return their input's layout,
               so a channels-last input keeps the whole net channels-last)
Prints one JSON object. Medians are statistics.median (the mean of the two
middle values of an even count), the definition core/order_statistics.h
gives the C++ side.

With --serve it times one round per line "round" read from stdin and
prints that round's medians as one JSON line (after a first line with the
logit checks), so bench_engine can interleave these rounds with its own.

Only the operators the trained trunk uses are ported (basic, the stem, the
exit head); a trunk using another operator is reported as an error.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.mobile_optimizer import optimize_for_mobile

ACTS = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hswish": nn.Hardswish,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "identity": nn.Identity,
}


class ConvBnAct(nn.Module):
    def __init__(self, cin, cout, k, stride, act):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = ACTS[act](inplace=True) if act != "identity" and act != "gelu" else ACTS[act]()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Shortcut(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.project = cin != cout or stride != 1
        if self.project:
            self.conv = nn.Conv2d(cin, cout, 1, stride, bias=False)
            self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(x)) if self.project else x


class BasicBlock(nn.Module):
    def __init__(self, cin, mid, cout, k, stride, act):
        super().__init__()
        self.conv1 = ConvBnAct(cin, mid, k, stride, act)
        self.conv2 = ConvBnAct(mid, cout, k, 1, "identity")
        self.shortcut = Shortcut(cin, cout, stride)
        self.act = ACTS[act]()

    def forward(self, x):
        return self.act(self.conv2(self.conv1(x)) + self.shortcut(x))


class ExitHead(nn.Module):
    """conv 3x3 stride 2 -> BN -> ReLU -> pool -> linear, or (conv=False,
    `exit_head: pool`) pool -> linear only."""

    def __init__(self, cin, channels, classes, conv=True):
        super().__init__()
        self.has_conv = conv
        if conv:
            self.conv = nn.Conv2d(cin, channels, 3, 2, 1, bias=False)
            self.bn = nn.BatchNorm2d(channels)
        self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        if self.has_conv:
            x = F.relu(self.bn(self.conv(x)), inplace=True)
        return self.fc(self.dropout(F.adaptive_avg_pool2d(x, 1).flatten(1)))


class TrunkVariant(nn.Module):
    """stem → the trunk candidate of stages 1..k → exit k, named as in C++."""

    def __init__(self, arch, exit_index, weights):
        super().__init__()
        shape = lambda name: weights[name.replace(".", "_")].shape
        stem = arch["stem"]
        w = shape("stem.0.conv.weight")
        self.stem = nn.Sequential(ConvBnAct(w[1], w[0], w[2], stem["stride"], stem["act"]))
        self.stage_names = []
        for s, stage in enumerate(arch["stages"][: exit_index + 1]):
            if stage["type"] != "basic":
                raise SystemExit(f"stage {s + 1}: operator {stage['type']} has no Python port")
            name = f"stage{s + 1}_{stage['name']}"
            blocks = []
            for b in range(stage["depth"]):
                p = f"{name}.{b}."
                w1, w2 = shape(p + "conv1.conv.weight"), shape(p + "conv2.conv.weight")
                blocks.append(BasicBlock(w1[1], w1[0], w2[0], w1[2], stage["stride"] if b == 0 else 1, stage["act"]))
            setattr(self, name, nn.Sequential(*blocks))
            self.stage_names.append(name)
        e = f"exit{exit_index + 1}"
        wf = shape(e + ".fc.weight")
        if (e + ".conv.weight").replace(".", "_") in weights:
            wc = shape(e + ".conv.weight")
            setattr(self, e, ExitHead(wc[1], wc[0], wf[0]))
        else:  # a pool head
            setattr(self, e, ExitHead(wf[1], wf[1], wf[0], conv=False))
        self.exit_name = e
        state = {k: weights[k.replace(".", "_")] for k in self.state_dict()}
        self.load_state_dict(state)

    def forward(self, x):
        x = self.stem(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return getattr(self, self.exit_name)(x)


def measure(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e3)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--serve", action="store_true",
                    help="one round per stdin line, one JSON line each")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    arch = json.load(open(os.path.join(args.dir, "arch.json")))
    res = arch["resolution"]
    x = torch.randn(1, arch["in_channels"], res, res, generator=torch.Generator().manual_seed(0))
    x_cl = x.contiguous(memory_format=torch.channels_last)
    out = {"threads": args.threads, "exits": []}
    models = []
    for k in range(len(arch["stages"])):
        traced = torch.jit.load(os.path.join(args.dir, f"exit{k + 1}.pt")).eval()
        weights = dict(traced.named_parameters())
        weights.update(dict(traced.named_buffers()))
        eager = TrunkVariant(arch, k, weights).eval()
        optimized = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        mobile = optimize_for_mobile(torch.jit.freeze(traced))
        with torch.inference_mode():
            want = traced(x)
            diff_eager = (eager(x) - want).abs().max().item()
            diff_opt = (optimized(x) - want).abs().max().item()
            diff_mobile = (mobile(x_cl) - want).abs().max().item()
        models.append((k, eager, optimized, mobile,
                       diff_eager, diff_opt, diff_mobile))
    per_round = max(3, args.repeats // args.rounds)

    def one_round():
        """Per exit, the medians of one round; the models take turns."""
        with torch.inference_mode():
            return {k: {"eager": measure(lambda: eager(x), 10, per_round),
                        "optimized": measure(lambda: optimized(x), 10, per_round),
                        "mobile": measure(lambda: mobile(x_cl), 10, per_round)}
                    for k, eager, optimized, mobile, _, _, _ in models}

    checks = [{"exit": k + 1, "max_abs_diff_eager": de, "max_abs_diff_optimized": do,
               "max_abs_diff_mobile": dm}
              for k, _, _, _, de, do, dm in models]
    if args.serve:
        print(json.dumps({"threads": args.threads, "exits": checks}), flush=True)
        for line in iter(input_line, None):
            if line.strip() != "round":
                raise SystemExit(f"engine_latency.py: unknown request {line.strip()!r}")
            r = one_round()
            print(json.dumps({"exits": [{"exit": k + 1, "eager_ms": t["eager"],
                                         "optimized_ms": t["optimized"],
                                         "mobile_ms": t["mobile"]}
                                        for k, t in r.items()]}), flush=True)
        return
    # Rounds interleave the models so slow drift of the machine hits all.
    rounds = [one_round() for _ in range(args.rounds)]
    med = statistics.median
    for check in checks:
        k = check["exit"] - 1
        out["exits"].append(dict(check,
                                 eager_ms=med(r[k]["eager"] for r in rounds),
                                 optimized_ms=med(r[k]["optimized"] for r in rounds),
                                 mobile_ms=med(r[k]["mobile"] for r in rounds)))
    print(json.dumps(out))


def input_line():
    """The next line of stdin, or None at its end."""
    line = sys.stdin.readline()
    return line if line else None


if __name__ == "__main__":
    main()
