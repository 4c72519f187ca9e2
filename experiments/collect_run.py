#!/usr/bin/env python3
"""Copies a finished run's small result files into experiments/results/NAME
and writes report.md from them: per-exit accuracy after every stage and on
the test set, wall time, throughput and peak memory per stage, the
confidence early-exit curve, the best variants and the linear probes.

    experiments/collect_run.py runs/cifar10_cpu experiments/results/cifar10_cpu

Standard library only. Every figure in report.md is read from the copied
files, so the report can be regenerated from what is committed."""
import csv
import json
import shutil
import sys
from collections import defaultdict
from pathlib import Path

FILES = ["config.yaml", "metrics.csv", "summary.json", "eval.json",
         "probes.csv", "log.txt"]


def pct(x):
    return f"{100 * x:.2f}%"


def main(run, out):
    run, out = Path(run), Path(out)
    for name in ["summary.json", "metrics.csv"]:
        if not (run / name).is_file():
            sys.exit(f"collect_run: {run / name} missing (is the run finished?)")
    out.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (run / name).is_file():
            shutil.copy2(run / name, out / name)

    summary = json.loads((out / "summary.json").read_text())
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    lines = [f"# Run `{run.name}`", ""]
    # Wall time and peak memory of the training itself, from its metrics
    # (summary.json may come from a later `--resume` of the finished run).
    wall = max(float(r["wall_seconds"]) for r in rows)
    peak = max(int(r["peak_rss_bytes"]) for r in rows if r["kind"] == "train")
    lines += [f"Model `{summary['model']}`; training wall time "
              f"{wall / 3600:.2f} h; peak resident memory while training "
              f"{peak / 2**20:.0f} MiB. Regenerate this report with "
              f"`experiments/collect_run.py {run} {out}`.", ""]

    # Per stage: epochs, wall time, mean training throughput, peak memory.
    lines += ["## Stages", "",
              "| stage | epochs | trunk choice | wall time | images/s | "
              "peak memory |", "| --- | ---: | --- | ---: | ---: | ---: |"]
    train = defaultdict(list)
    for r in rows:
        if r["kind"] == "train":
            train[int(r["stage"])].append(r)
    # A stage's own row (kind "stage", exit == stage) carries its epochs,
    # wall seconds and trunk choice, so resumed runs report every stage.
    # Stage 0 (train.pretrain) trains every exit: its own row is the
    # deepest one.
    own = {}
    for r in rows:
        if r["kind"] != "stage":
            continue
        k = int(r["stage"])
        if k == 0 or int(r["exit"]) == k:
            own[k] = r
    for k, r in sorted(own.items()):
        epochs = {int(t["epoch"]): t for t in train[k]}
        rate = sum(float(t["images_per_second"]) for t in epochs.values())
        rate /= max(1, len(epochs))
        peak = max((int(t["peak_rss_bytes"]) for t in train[k]), default=0)
        lines.append(f"| {k} | {r['epoch']} | `{r['variant']}` | "
                     f"{float(r['epoch_seconds']) / 60:.1f} min | {rate:.0f} | "
                     f"{peak / 2**20:.0f} MiB |")
    lines.append("")

    # Validation accuracy of every exit after every stage.
    after = defaultdict(dict)
    for r in rows:
        if r["kind"] == "stage":
            after[int(r["stage"])][int(r["exit"])] = float(r["top1"])
    if after:
        exits = max(max(v) for v in after.values())
        lines += ["## Validation top-1 of every exit after each stage", "",
                  "| after stage | " + " | ".join(
                      f"exit {e}" for e in range(1, exits + 1)) + " |",
                  "| --- |" + " ---: |" * exits]
        for k in sorted(after):
            cells = [pct(after[k][e]) if e in after[k] else ""
                     for e in range(1, exits + 1)]
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
        lines.append("")

    lines += ["## Test top-1 of the trunk exits", "",
              "| exit | variant | top-1 | top-5 |", "| --- | --- | ---: | ---: |"]
    for e, t in enumerate(summary["test"], 1):
        lines.append(f"| {e} | `{t['variant']}` | {pct(t['top1'])} | "
                     f"{pct(t['top5'])} |")
    lines.append("")

    if (out / "eval.json").is_file():
        ev = json.loads((out / "eval.json").read_text())
        if ev.get("early_exit"):
            lines += ["## Confidence early exit (test split)", "",
                      "| threshold | top-1 | mean MACs | share per exit |",
                      "| ---: | ---: | ---: | --- |"]
            for p in ev["early_exit"]:
                shares = " / ".join(f"{s:.2f}" for s in p["exit_share"])
                lines.append(f"| {p['threshold']:.2f} | {pct(p['top1'])} | "
                             f"{p['mean_macs'] / 1e6:.1f} M | {shares} |")
            lines.append("")
        if ev.get("variants"):
            by_exit = defaultdict(list)
            for v in ev["variants"]:
                by_exit[v["variant"].split(":")[0]].append(v)
            lines += ["## Variants (test split)", "",
                      f"{len(ev['variants'])} variants evaluated.", "",
                      "| exit | variants | best | top-1 | worst | top-1 |",
                      "| --- | ---: | --- | ---: | --- | ---: |"]
            for e in sorted(by_exit):
                vs = sorted(by_exit[e], key=lambda v: -v["top1"])
                lines.append(f"| {e} | {len(vs)} | `{vs[0]['variant']}` | "
                             f"{pct(vs[0]['top1'])} | `{vs[-1]['variant']}` | "
                             f"{pct(vs[-1]['top1'])} |")
            lines.append("")

    if (out / "probes.csv").is_file():
        probes = list(csv.DictReader((out / "probes.csv").open()))
        lines += ["## Linear probes after every trunk block (test split)", "",
                  "| depth | block | channels | probe top-1 |",
                  "| ---: | --- | ---: | ---: |"]
        for p in probes:
            lines.append(f"| {p['depth']} | `{p['block']}` | {p['channels']} | "
                         f"{pct(float(p['test_top1']))} |")
        lines.append("")

    (out / "report.md").write_text("\n".join(lines))
    print(f"collect_run: wrote {out / 'report.md'}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: collect_run.py RUN_DIR OUT_DIR")
    main(sys.argv[1], sys.argv[2])
