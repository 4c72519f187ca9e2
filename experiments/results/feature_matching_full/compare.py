#!/usr/bin/env python3
"""Feature matching at the CPU recipe's full stage schedule: two runs of
stages 1-4 from one stage-0 checkpoint, identical but for
train.feature_matching (0 = the recipe as shipped, 1). Prints a Markdown
report of the stand-ins' validation top-1 at the end of each stage, the
test top-1 of the trunk exits and how many of the 500 variants come
within 3 points of their exit's trunk variant on the test split.

  /usr/bin/python3 experiments/results/feature_matching_full/compare.py \
      experiments/results/feature_matching_full/fm0 \
      experiments/results/feature_matching_full/fm1   # or the two run directories
"""
import csv
import json
import sys
from pathlib import Path


def stage_ends(run):
    """(stage, head) -> validation top-1 at the stage's last epoch."""
    last = {}
    with open(Path(run) / "metrics.csv") as f:
        for row in csv.DictReader(f):
            if row["kind"] == "validation" and int(row["stage"]) >= 1:
                last[(int(row["stage"]), row["variant"])] = float(row["top1"])
    return last


def test_scores(run):
    e = json.loads((Path(run) / "eval.json").read_text())
    exits = {int(x["exit"]): float(x["top1"]) for x in e["exits"]}
    variants = {v["variant"]: float(v["top1"]) for v in e["variants"]}
    return exits, variants


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: compare.py RUN_WITHOUT RUN_WITH")
    off, on = sys.argv[1], sys.argv[2]
    s_off, s_on = stage_ends(off), stage_ends(on)
    print(f"# Feature matching at the full schedule: {off} (off) vs {on} (on)\n")
    print("## Validation top-1 at the end of each stage (5,000 images)\n")
    print("| stage | head | off | on | on - off |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for key in sorted(s_off):
        if key in s_on:
            a, b = s_off[key], s_on[key]
            print(f"| {key[0]} | `{key[1]}` | {100 * a:.2f} | {100 * b:.2f} | {100 * (b - a):+.2f} |")
    print("\n## Test split (10,000 images)\n")
    print("| run | exit 1 / 2 / 3 / 4 | variants within 3 pts of their exit | at chance (< 15%) | best stage-2 stand-in |")
    print("| --- | --- | ---: | ---: | --- |")
    for name, run in (("off", off), ("on", on)):
        exits, variants = test_scores(run)
        within = sum(1 for v, t in variants.items()
                     if t >= exits[int(v.split(":")[0][1:])] - 0.03)
        chance = sum(1 for t in variants.values() if t < 0.15)
        stand_ins = {v: t for v, t in variants.items()
                     if v.startswith("e2:basic.") and v != "e2:basic.basic"}
        best = max(stand_ins, key=stand_ins.get)
        print(f"| {name} | {' / '.join(f'{100 * exits[k]:.2f}' for k in sorted(exits))} "
              f"| {within} of {len(variants)} | {chance} | `{best}` {100 * stand_ins[best]:.2f} |")


if __name__ == "__main__":
    main()
