#!/usr/bin/env python3
"""Ablations of the training extensions: each one switched in turn.

The CPU recipe (configs/train/cifar10_cpu.yaml) extends Algorithm 1 with a
stage 0 (the backbone trunk trained with every exit), self-distillation,
keep_trunk (stages train only the stand-in candidates) and feature matching
(stand-ins pulled towards the backbone block's output). This driver trains
the recipe at a reduced budget as it is and once with each extension
switched off, then scores every exit and every variant of each run.
"""
from __future__ import annotations

import json

from common import (ROOT, DriverError, Experiment, binary, fmt, main, niced, rel,
                    table)

# A variant "stands in" when it is within this many points of its trunk exit.
WITHIN = 0.03


def read_json(path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DriverError(f"{rel(path)} missing") from None
    except json.JSONDecodeError as e:
        raise DriverError(f"{rel(path)}: not JSON ({e})") from None


def score(run_dir) -> dict:
    """Per-exit test top-1, training time and variant statistics of a run."""
    summary = read_json(run_dir / "summary.json")
    evaluation = read_json(run_dir / "eval.json")
    try:
        exits = {int(e["exit"]): float(e["top1"]) for e in evaluation["exits"]}
        variants = [(v["variant"], float(v["top1"])) for v in evaluation["variants"]]
        wall = float(summary["wall_seconds"])
    except (KeyError, TypeError, ValueError) as e:
        raise DriverError(f"{rel(run_dir)}: unexpected summary/eval layout ({e})") from None
    if not variants:
        raise DriverError(f"{rel(run_dir)}/eval.json: no variants (eval --variants all)")
    within = 0
    chance = 0
    for name, top1 in variants:
        exit_number = int(name.split(":")[0][1:])
        if top1 >= exits[exit_number] - WITHIN:
            within += 1
        if top1 < 0.15:  # CIFAR-10 chance is 0.10
            chance += 1
    return {
        "exits": exits,
        "wall_seconds": wall,
        "variants": len(variants),
        "within": within,
        "chance": chance,
        "mean_variant_top1": sum(t for _, t in variants) / len(variants),
    }


def body(exp: Experiment) -> None:
    recipe = exp.setting("recipe", str)
    common = [str(s) for s in exp.setting("common", list)]
    runs = exp.setting("runs", dict)
    limit = exp.setting("eval_limit", int)
    if "recipe" not in runs:
        raise DriverError(f"experiments/reproduce/{exp.name}.yaml: runs needs recipe (the recipe unchanged)")
    if not (ROOT / recipe).is_file():
        raise DriverError(f"{recipe}: no such recipe")
    adascale = binary()
    results = {}
    for name, sets in runs.items():
        out = exp.work_dir / name
        args = [s for s in common + [str(s) for s in (sets or [])]]
        if not (out / "summary.json").is_file():
            cmd = [adascale, "train", "--run", out]
            if (out / "config.yaml").is_file():
                cmd += ["--resume"]
            cmd += ["--config", recipe]
            for s in args:
                cmd += ["--set", s]
            exp.run(niced(exp, cmd), stamp=f"train_{name}")
        exp.run(niced(exp, [adascale, "eval", "--run", out, "--limit", limit, "--json"]),
                stamp=f"eval_{name}", quiet=True)
        results[name] = score(out)
        results[name]["sets"] = sets or []

    base = results["recipe"]
    rows = []
    for name, r in results.items():
        row = {"run": name, "sets": " ".join(r["sets"]), "wall_min": r["wall_seconds"] / 60,
               "variants": r["variants"], "within_3pt": r["within"],
               "at_chance": r["chance"], "mean_variant_top1": r["mean_variant_top1"]}
        for e, t in sorted(r["exits"].items()):
            row[f"exit{e}_top1"] = t
        rows.append(row)
    exit_numbers = sorted(base["exits"])
    exp.write_csv(rows, ["run", "sets"] + [f"exit{e}_top1" for e in exit_numbers]
                  + ["mean_variant_top1", "within_3pt", "at_chance", "variants", "wall_min"])

    with exp.figure(1, 2, figsize=(11, 4.2)) as (fig, axes):
        names = list(results)
        width = 0.8 / max(1, len(exit_numbers))
        for i, e in enumerate(exit_numbers):
            axes[0].bar([k + i * width for k in range(len(names))],
                        [100 * results[n]["exits"].get(e, 0) for n in names], width,
                        label=f"exit {e}")
        axes[0].set_xticks([k + 0.4 - width / 2 for k in range(len(names))], names,
                           rotation=20, ha="right", fontsize=8)
        axes[0].set_ylabel("test top-1 (%)")
        lo = min(100 * t for n in names for t in results[n]["exits"].values())
        axes[0].set_ylim(max(0, lo - 10), 100)
        axes[0].legend(fontsize=8)
        axes[0].set_title("Trunk exits")
        axes[1].bar(names, [results[n]["within"] for n in names], color="tab:green")
        axes[1].set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
        axes[1].set_ylabel(f"variants within {100 * WITHIN:.0f} points of their trunk exit")
        axes[1].set_title(f"Usable variants (of {base['variants']})")

    pct = lambda v: f"{100 * v:.2f}%"
    lines = [
        "## Each extension switched",
        "",
        f"Recipe `{recipe}` with `{' '.join(common)}` for every run, from the same seed; "
        f"each variant scored on the first {limit} test images "
        f"(`adascale eval --run RUN --limit {limit}`). Runs are in `{rel(exp.work_dir)}/`.",
        "",
    ]
    lines += table(
        ["run", "changed by"] + [f"exit {e}" for e in exit_numbers]
        + ["mean variant", f"variants within {100 * WITHIN:.0f} pts", "at chance",
           "training"],
        [[f"`{n}`", " ".join(f"`{s}`" for s in r["sets"]) or "(the recipe)"]
         + [pct(r["exits"][e]) for e in exit_numbers]
         + [pct(r["mean_variant_top1"]), f"{r['within']} / {r['variants']}", r["chance"],
            f"{fmt(r['wall_seconds'] / 60, 1)} min"]
         for n, r in results.items()])
    lines += ["", "## What each extension does here", ""]
    for n, r in results.items():
        if n == "recipe":
            continue
        deltas = ", ".join(
            f"exit {e} {100 * (r['exits'][e] - base['exits'][e]):+.2f} pts"
            for e in exit_numbers if e in r["exits"])
        lines.append(f"- `{n}` against the recipe: {deltas}; variants within "
                     f"{100 * WITHIN:.0f} points {r['within'] - base['within']:+d}, "
                     f"variants at chance {r['chance'] - base['chance']:+d}.")
    if exp.budget == "quick":
        lines += ["", "Quick budget: a smoke run of the plumbing, not results."]
    else:
        lines += ["", "A reduced budget: differences of under a point are within the "
                  "run-to-run noise of so short a schedule."]
    exp.write_report("Ablations of the training extensions", lines)


if __name__ == "__main__":
    main("ablations", __doc__.splitlines()[0], body)
