#!/usr/bin/env python3
"""Figs. 6, 7(a,b) and 9: batch-1 latency in resource-constrained contexts
(paper §V-D/E).

The paper ran the baselines and AdaScale on a Jetson Xavier NX and a
Raspberry Pi 4B under managed resource limits. We have one 2-core VM, so the
"devices" become contexts of it (the YAML's `contexts`): idle at 2 and 1
threads, pinned to one core (taskset), a CPU quota (systemd-run's CPUQuota,
else a cgroup's CPU bandwidth limit, else skipped with a note), and
background load from stress-ng started before and killed after the
context's measurements (also on error, Ctrl-C or SIGTERM; stress-ng's own
--timeout bounds it if the driver is killed outright).

In each context:
- `bench_models` times every baseline and the elastic net's trunk exits
  e1..e4 in eager LibTorch (one harness for all: the like-for-like figure);
- `bench_engine` times the trained bundle's exits through the adaptive
  engine (traced, BN-folded blocks: what AdaScale deploys);
- `adascale-demo --set mode=adaptive` lets the runtime choose under the latency
  budget T in that context (tables + monitor + thread governor) and times
  what it runs: the "adaptive" entry is its median latency, with the
  variant it ran most and its accuracy on the test images it saw.

The speed-up of an entry over a baseline is baseline latency / entry
latency in the same context.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

from common import (ROOT, DriverError, Experiment, binary, load_average, main, require,
                    fmt, niced, rel, set_flags, table)

NAME = "constrained_latency"
LABELS = {
    "shufflenet_v2": "ShuffleNetV2", "squeezenet1_1": "SqueezeNet 1.1",
    "resnet18": "ResNet18", "mobilenet_v3_large": "MobileNetV3-Large",
    "mobilenet_v3_small": "MobileNetV3-Small", "vit": "ViT",
}
CGROUP_NAME = "adascale_reproduce_quota"








class Skip(Exception):
    """A context that cannot be set up here; the message says why."""


class Context:
    """One resource context: wraps commands (taskset, CPU quota) and holds
    background load (stress-ng) while entered."""

    def __init__(self, exp: Experiment, spec: dict):
        self.exp = exp
        self.spec = spec
        self.name = spec["name"]
        self.threads = int(spec.get("threads", 2))
        self.prefix: list = []
        self.notes: list = []
        self.stress: subprocess.Popen | None = None
        self.cgroup: Path | None = None

    # -- CPU quota ------------------------------------------------------------
    def _quota_prefix(self, pct: float) -> list:
        quota = f"CPUQuota={pct:g}%"
        probe = ["systemd-run", "--user", "--scope", "--quiet", "-p", quota]
        try:
            ok = subprocess.run(probe + ["true"], capture_output=True, timeout=15).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            self.notes.append(f"`systemd-run --user --scope -p {quota}`")
            return probe
        why = ["`systemd-run --user --scope` refused (no systemd user manager in this container)"]
        period = 100000
        # cgroup v1 CPU bandwidth control, then cgroup v2.
        for base, files in [(Path("/sys/fs/cgroup/cpu"), ("cpu.cfs_quota_us", "cpu.cfs_period_us")),
                            (Path("/sys/fs/cgroup"), ("cpu.max", None)),
                            (Path("/sys/fs/cgroup/unified"), ("cpu.max", None))]:
            group = base / CGROUP_NAME
            try:
                if not base.is_dir():
                    continue
                group.mkdir(exist_ok=True)
                self.cgroup = group
                if files[1]:
                    (group / files[1]).write_text(f"{period}\n")
                    (group / files[0]).write_text(f"{int(period * pct / 100)}\n")
                else:
                    (group / files[0]).write_text(f"{int(period * pct / 100)} {period}\n")
                self.notes.append(f"{'; '.join(why)}; used the cgroup `{group}` instead "
                                  f"(CPU bandwidth {int(period * pct / 100)} µs per {period} µs)")
                procs = group / "cgroup.procs"
                return ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh"]
            except OSError as e:
                why.append(f"{group}: {e.strerror or e}")
                self._remove_cgroup()
        raise Skip("no way to impose a CPU quota here: " + "; ".join(why))

    def _remove_cgroup(self) -> None:
        if self.cgroup is None:
            return
        for _ in range(10):
            try:
                self.cgroup.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.2)  # its last process is still exiting
        else:
            print(f"[{NAME}] warning: could not remove cgroup {self.cgroup}", flush=True)
        self.cgroup = None

    # -- entering and leaving -------------------------------------------------
    def __enter__(self):
        try:
            if self.spec.get("taskset") is not None:
                self.prefix += ["taskset", "-c", str(self.spec["taskset"])]
                self.notes.append(f"`taskset -c {self.spec['taskset']}`")
            if self.spec.get("cpu_quota_pct"):
                self.prefix += self._quota_prefix(float(self.spec["cpu_quota_pct"]))
            if self.spec.get("stress_cpu"):
                n = int(self.spec["stress_cpu"])
                # --timeout bounds it even if this driver is killed with SIGKILL.
                cmd = niced(self.exp, ["stress-ng", "--cpu", n, "--timeout", "3600s", "--quiet"])
                print(f"[{NAME}] background: {' '.join(cmd)}", flush=True)
                try:
                    self.stress = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True,
                                                   stdout=subprocess.DEVNULL)
                except FileNotFoundError:
                    raise Skip("stress-ng not installed (apt-get install stress-ng)") from None
                time.sleep(float(self.exp.config.get("stress_settle_s", 2)))
                if self.stress.poll() is not None:
                    raise Skip(f"stress-ng exited at once (status {self.stress.returncode})")
                self.notes.append(f"`stress-ng --cpu {n}` in the background")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.stress is not None:
            try:
                os.killpg(self.stress.pid, signal.SIGTERM)
                self.stress.wait(timeout=10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.stress.pid, signal.SIGKILL)
                self.stress.wait()
            print(f"[{NAME}] background load stopped", flush=True)
            self.stress = None
        self._remove_cgroup()
        return False

    @property
    def note(self) -> str:
        return "; ".join(self.notes)

    def wrap(self, cmd: list) -> list:
        return self.prefix + niced(self.exp, cmd)


def measure(exp: Experiment, ctx: Context, models: list, bundle: Path) -> dict:
    """The three measurements of one context (each a stamped step)."""
    c = ctx.name
    lat = exp.setting("latency", dict)
    out = {"eager": {}, "engine": {}, "adaptive": None, "load": None}
    load_file = exp.work_dir / f"{c}.loadavg"
    if not load_file.is_file() or not exp.done(f"{c}_models_r1"):
        load_file.write_text(f"{load_average()}\n")
    per = {}
    for i in range(int(lat.get("rounds", 1))):
        res = exp.run_json(ctx.wrap([
            binary("bench_models"), "--threads", ctx.threads, "--batches", 1, "--skip-python",
            "--repeats", lat.get("repeats", 30), "--max-seconds", lat.get("max_seconds", 4),
            "--json", "--models", *models, "adascale"]), stamp=f"{c}_models_r{i + 1}")
        for name, m in res.get("models", {}).items():
            ms = m.get("cpp_ms", {}).get("1")
            if ms is None:
                raise DriverError(f"bench_models: {name}: no cpp_ms['1'] in its JSON")
            per.setdefault(name, []).append(float(ms))
    out["eager"] = {k: statistics.median(v) for k, v in per.items()}

    repeats = exp.setting("engine_repeats", int)
    res = exp.run_json(ctx.wrap([
        binary("bench_engine"), "--bundle", bundle, "--threads", ctx.threads, "--skip-python",
        "--repeats", repeats, "--rounds", max(1, repeats // 8), "--json"]), stamp=f"{c}_engine")
    out["engine"] = {int(e["exit"]): e for e in res.get("exits", [])}

    demo = exp.setting("demo", dict)
    demo_dir = exp.work_dir / "demo" / c
    stamp = f"{c}_demo"
    if exp.done(stamp) and not (demo_dir / "summary.json").is_file():
        (exp.stamp_dir / f"{stamp}.done").unlink()
    exp.run(ctx.wrap([
        binary("adascale-demo"), "--bundle", bundle, "--quiet", "--out", demo_dir,
        *set_flags({"runtime.policy.budget_ms": exp.setting("budget_ms", (int, float)),
                    "mode": "adaptive", "duration_s": demo.get("duration_s", 20),
                    "warmup_s": demo.get("warmup_s", 2), "limit": demo.get("limit", 2000),
                    "runtime.min_accuracy": demo.get("min_accuracy", 0.5),
                    "runtime.intra_op_threads": ctx.threads})]), stamp=stamp, quiet=True)
    summary = json.loads((demo_dir / "summary.json").read_text())
    try:
        out["adaptive"] = summary["phases"]["adaptive"]
    except KeyError:
        raise DriverError(f"{rel(demo_dir)}/summary.json: no phases.adaptive") from None
    try:
        out["load"] = float(load_file.read_text())
    except (OSError, ValueError):
        pass
    return out


def slower_reason(slower: list, summary_rows: list) -> str:
    """Why the stage-1 exit lost to a baseline somewhere, from where it lost."""
    stressed = {s["spec"]["name"] for s in summary_rows if s["spec"].get("stress_cpu")}
    if all(c in stressed for c, _ in slower):
        return ("Every such case is under stress-ng, where a fixed-thread eager model's "
                "latency is set by waiting for a descheduled worker thread rather than by "
                "its MACs (*Under stress-ng* below); the engine and adaptive columns, which "
                "give up threads the stressors take, stay ahead.")
    return ("Where it loses without a stressor, the baseline is a depthwise model, which a "
            "CPU runs well at batch 1 and the paper's Jetson GPU ran slowly (Table III).")


def all_done(exp: Experiment, spec: dict) -> bool:
    """Whether every measurement of a context is stamped (and kept)."""
    c = spec["name"]
    rounds = int(exp.setting("latency", dict).get("rounds", 1))
    stamps = [f"{c}_models_r{i + 1}" for i in range(rounds)] + [f"{c}_engine", f"{c}_demo"]
    return (all(exp.done(s) for s in stamps)
            and (exp.work_dir / "demo" / c / "summary.json").is_file())


def exit_accuracy(run: Path) -> dict:
    """Test top-1 per trunk exit (eval.json, else summary.json)."""
    src = run / "eval.json" if (run / "eval.json").is_file() else run / "summary.json"
    data = json.loads(src.read_text())
    return {int(e["exit"]): e["top1"] for e in data.get("exits", data.get("test", []))}


def speedups(base: dict, value: float | None) -> tuple:
    """(min, max, per-baseline) of baseline / value."""
    if not value:
        return None, None, {}
    per = {m: ms / value for m, ms in base.items() if ms}
    return (min(per.values()) if per else None, max(per.values()) if per else None, per)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def body(exp: Experiment) -> None:
    models = exp.setting("models", list)
    for m in models:
        if not (ROOT / "configs" / "models" / f"{m}.yaml").is_file():
            raise DriverError(f"models: no configs/models/{m}.yaml")
    run = exp.trained_run("run")
    bundle = require(exp.setting("bundle", str), exp.make_command())
    only = exp.config.get("only") or []
    contexts = [c for c in exp.setting("contexts", list) if not only or c["name"] in only]
    unknown = set(only) - {c["name"] for c in exp.setting("contexts", list)}
    if unknown:
        raise DriverError(f"only: unknown context(s) {', '.join(sorted(unknown))}")
    acc = exit_accuracy(run)

    # SIGTERM (scripts, timeouts) unwinds like Ctrl-C, so stress-ng and the
    # cgroup are cleaned up by Context.__exit__.
    signal.signal(signal.SIGTERM, _interrupt)

    results, skipped = [], []
    for spec in contexts:
        print(f"[{NAME}] context {spec['name']}: {spec.get('label', '')}", flush=True)
        note_file = exp.work_dir / f"{spec['name']}.note"
        try:
            if all_done(exp, spec):
                # Nothing left to run: no background load, no quota.
                m = measure(exp, Context(exp, spec), models, bundle)
                m["note"] = note_file.read_text().strip() if note_file.is_file() else ""
            else:
                with Context(exp, spec) as ctx:
                    m = measure(exp, ctx, models, bundle)
                    m["note"] = ctx.note
                    note_file.write_text(ctx.note + "\n")
        except Skip as e:
            print(f"[{NAME}] skip context {spec['name']}: {e}", flush=True)
            skipped.append((spec, str(e)))
            continue
        m["spec"] = spec
        results.append(m)
    if not results:
        raise DriverError("no context could be measured: " + "; ".join(s for _, s in skipped))

    # -- rows -------------------------------------------------------------------
    rows, summary_rows = [], []
    for m in results:
        spec, eager, engine, ad = m["spec"], m["eager"], m["engine"], m["adaptive"]
        base = {k: eager.get(k) for k in models}
        e1_name = next((k for k in eager if k.startswith("adascale e1:")), None)
        e1 = eager.get(e1_name)
        e1_engine = engine.get(1, {}).get("engine_ms")
        ad_ms = ad.get("latency_p50_ms")
        s_e1 = speedups(base, e1)
        s_eng = speedups(base, e1_engine)
        s_ad = speedups(base, ad_ms)
        top_variant = max(ad.get("variant_share", {"—": 1}).items(), key=lambda kv: kv[1])
        common = {"context": spec["name"], "context_label": spec.get("label", spec["name"]),
                  "threads": spec.get("threads", 2), "load_avg_1m": m["load"]}
        for k in models:
            rows.append({**common, "entry": k, "kind": "baseline", "variant": k,
                         "latency_ms": base[k],
                         "speedup_e1_eager": s_e1[2].get(k), "speedup_e1_engine": s_eng[2].get(k),
                         "speedup_adaptive": s_ad[2].get(k)})
        for name, ms in sorted(eager.items()):
            if name.startswith("adascale "):
                v = name.split(" ", 1)[1]
                rows.append({**common, "entry": f"adascale_{v.split(':')[0]}_eager",
                             "kind": "adascale_eager", "variant": v, "latency_ms": ms,
                             "test_top1": acc.get(int(v.split(":")[0][1:]))})
        for k, e in sorted(engine.items()):
            rows.append({**common, "entry": f"adascale_e{k}_engine", "kind": "adascale_engine",
                         "variant": e.get("variant"), "latency_ms": e.get("engine_ms"),
                         "test_top1": acc.get(k)})
        rows.append({**common, "entry": "adascale_adaptive", "kind": "adaptive",
                     "variant": f"{top_variant[0]} ({100 * top_variant[1]:.0f}%)",
                     "latency_ms": ad_ms, "latency_p95_ms": ad.get("latency_p95_ms"),
                     "miss_rate": ad.get("miss_rate"), "test_top1": ad.get("accuracy")})
        summary_rows.append({"spec": spec, "m": m, "base": base, "e1": e1, "e1_engine": e1_engine,
                             "ad": ad, "ad_ms": ad_ms, "s_e1": s_e1, "s_eng": s_eng, "s_ad": s_ad,
                             "top_variant": top_variant})
    exp.write_csv(rows, ["context", "context_label", "threads", "load_avg_1m", "entry", "kind",
                         "variant", "latency_ms", "latency_p95_ms", "miss_rate", "test_top1",
                         "speedup_e1_eager", "speedup_e1_engine", "speedup_adaptive"])
    plot(exp, results, models)
    report(exp, run, bundle, models, results, summary_rows, skipped, acc)


def plot(exp: Experiment, results: list, models: list) -> None:
    entries = [(LABELS.get(k, k), lambda m, k=k: m["eager"].get(k)) for k in models]
    for i in range(1, 5):
        entries.append((f"AdaScale e{i} eager", lambda m, i=i: next(
            (v for k, v in m["eager"].items() if k.startswith(f"adascale e{i}:")), None)))
    entries.append(("AdaScale e1 engine", lambda m: m["engine"].get(1, {}).get("engine_ms")))
    entries.append(("AdaScale adaptive", lambda m: m["adaptive"].get("latency_p50_ms")))
    import matplotlib.pyplot as plt
    cmap = plt.get_cmap("tab20")
    with exp.figure(1, 1, figsize=(max(8, 2.2 * len(results)), 5)) as (fig, ax):
        n = len(entries)
        w = 0.85 / n
        for j, (label, get) in enumerate(entries):
            xs = [i + (j - n / 2 + 0.5) * w for i in range(len(results))]
            ys = [get(m) or 0 for m in results]
            hatch = "//" if label.startswith("AdaScale") else None
            ax.bar(xs, ys, w, label=label, color=cmap(j % 20), hatch=hatch,
                   edgecolor="black" if hatch else None, linewidth=0.3)
        ax.set_xticks(range(len(results)))
        ax.set_xticklabels([m["spec"].get("label", m["spec"]["name"]) for m in results],
                           fontsize=8, rotation=15, ha="right")
        ax.set_yscale("log")
        ax.set_ylabel("batch-1 latency (ms, log; adaptive: median)")
        ax.set_title("Batch-1 latency per context (2-core VM)")
        ax.grid(axis="y", alpha=0.3, which="both")
        ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def report(exp, run, bundle, models, results, summary_rows, skipped, acc) -> None:
    paper = exp.paper
    nx = paper.get("speedup_vs_baselines", {}).get("jetson_nx", [None, None])
    pi = paper.get("speedup_vs_baselines", {}).get("raspberry_pi_4b", [None, None])
    lat, demo = exp.setting("latency", dict), exp.setting("demo", dict)
    T = exp.setting("budget_ms", (int, float))
    e4 = acc.get(max(acc)) if acc else None
    lines = [
        "The paper's Figs. 6, 7(a,b) and 9 (§V-D/E) compare batch-1 latency of AdaScale and "
        "the lightweight baselines on a Jetson Xavier NX and a Raspberry Pi 4B under limited "
        "resources, and report AdaScale's speed-up over the baselines: "
        f"**{nx[0]}–{nx[1]}× on the Jetson NX, {pi[0]}–{pi[1]}× on the Pi 4B** (up to "
        f"{pi[1]}× over ShuffleNet), with accuracy losses below "
        f"{paper.get('accuracy_loss_below_pct', 4)}%. We have neither board: the "
        "contexts below are resource limits on this 2-core x86 VM, so the absolute "
        "latencies are not the paper's; the speed-ups are the comparable figures.", "",
        f"Per context: `bench_models` (eager LibTorch, the same harness for every baseline "
        f"and for the elastic net's trunk exits; {lat.get('repeats')} repeats or "
        f"{lat.get('max_seconds')} s per model, median over {lat.get('rounds')} round(s)), "
        f"`bench_engine` on `{rel(bundle)}` (the exits through AdaScale's inference engine, "
        f"{exp.setting('engine_repeats', int)} repeats), and `adascale-demo --set mode=adaptive "
        f"--set runtime.policy.budget_ms={T}` for {demo.get('duration_s')} s on {demo.get('limit')} test images: "
        "the runtime's own choice in that context (the table search under the monitored "
        "load, latency feedback and the thread governor), timed live; its figure is the "
        "median latency of what it ran. The zoo models are untrained (latency does not "
        "depend on the weights); accuracies are the trained run's "
        f"(`{rel(run)}`, test top-1) and the demo's running accuracy.", "",
        "## Latency (ms, batch 1)", "",
    ]
    cols = ["entry"] + [m["spec"]["name"] for m in results]
    body = []
    for k in models:
        body.append([LABELS.get(k, k)] + [fmt(m["eager"].get(k)) for m in results])
    for i in range(1, 5):
        name = next((k for k in results[0]["eager"] if k.startswith(f"adascale e{i}:")), None)
        if name:
            body.append([f"AdaScale {name.split(' ', 1)[1]} eager (top-1 {fmt(100 * acc.get(i, float('nan')), 1)}%)"]
                        + [fmt(m["eager"].get(name)) for m in results])
    for i in sorted(results[0]["engine"]):
        body.append([f"AdaScale e{i} engine"]
                    + [fmt(m["engine"].get(i, {}).get("engine_ms")) for m in results])
    body.append(["AdaScale adaptive, median (p95)"]
                + [f"{fmt(m['adaptive'].get('latency_p50_ms'))} ({fmt(m['adaptive'].get('latency_p95_ms'))})"
                   for m in results])
    body.append(["adaptive: variant run most"]
                + [f"`{s['top_variant'][0]}` {100 * s['top_variant'][1]:.0f}%" for s in summary_rows])
    body.append(["adaptive: accuracy / deadline misses"]
                + [f"{fmt(100 * (m['adaptive'].get('accuracy') or 0), 1)}% / "
                   f"{fmt(100 * (m['adaptive'].get('miss_rate') or 0), 1)}%" for m in results])
    body.append(["load average before"] + [fmt(m["load"]) for m in results])
    lines += table(cols, body) + [""]
    lines += ["Contexts: " + "; ".join(
        f"`{m['spec']['name']}` = {m['spec'].get('label', '')}"
        + (f" ({m['note']})" if m.get("note") else "") for m in results) + ".", ""]
    if skipped:
        lines += ["Skipped: " + "; ".join(f"`{s['name']}`: {why}" for s, why in skipped) + ".", ""]

    lines += ["## Speed-up over the baselines (baseline latency / AdaScale latency)", ""]
    body = []
    for s in summary_rows:
        body.append([s["spec"]["name"],
                     f"{fmt(s['s_e1'][0])}–{fmt(s['s_e1'][1])}×",
                     f"{fmt(s['s_eng'][0])}–{fmt(s['s_eng'][1])}×",
                     f"{fmt(s['s_ad'][0])}–{fmt(s['s_ad'][1])}×",
                     f"{nx[0]}–{nx[1]}× / {pi[0]}–{pi[1]}×"])
    lines += table(["context", "stage-1 exit, eager", "stage-1 exit, engine",
                    "adaptive choice", "paper: Jetson NX / Pi 4B"], body) + [""]
    per = []
    for s in summary_rows:
        per.append([s["spec"]["name"]] + [fmt(s["s_e1"][2].get(k)) + " / " + fmt(s["s_ad"][2].get(k))
                                          for k in models])
    lines += ["Per baseline (stage-1 eager / adaptive):", ""]
    lines += table(["context"] + [LABELS.get(k, k) for k in models], per) + [""]

    # Sentences on each difference.
    lines += ["## Differences from the paper", ""]
    lows = [(s["spec"]["name"], s["s_e1"][0]) for s in summary_rows if s["s_e1"][0]]
    slower = [(s["spec"]["name"], k) for s in summary_rows for k, v in s["s_e1"][2].items() if v < 1]
    if lows:
        lo = min(lows, key=lambda t: t[1])
        hi = max(((s["spec"]["name"], s["s_e1"][1]) for s in summary_rows if s["s_e1"][1]),
                 key=lambda t: t[1])
        lines.append(
            f"- *Stage-1 exit against the baselines*: {fmt(lo[1])}× (`{lo[0]}`) to "
            f"{fmt(hi[1])}× (`{hi[0]}`) here, against the paper's {nx[0]}–{nx[1]}× (NX) and "
            f"{pi[0]}–{pi[1]}× (Pi). "
            + (("It is not the fastest everywhere: slower than "
                + ", ".join(f"{LABELS.get(k, k)} in `{c}`" for c, k in slower[:8])
                + (" …" if len(slower) > 8 else "")
                + ". " + slower_reason(slower, summary_rows))
               if slower else "It is the fastest model in every context, as in the paper."))
    ad_ok = [s for s in summary_rows if s["ad_ms"]]
    if ad_ok:
        over = [s["spec"]["name"] for s in ad_ok if s["ad_ms"] > T]
        losses = [(s["spec"]["name"], 100 * (e4 - s["ad"].get("accuracy", 0))) for s in ad_ok
                  if e4 is not None and s["ad"].get("accuracy") is not None]
        lines.append(
            f"- *Adaptive choice*: the runtime runs the most accurate variant its tables "
            f"predict to fit T = {T} ms in the context, not the smallest exit, so its "
            "speed-up over a baseline depends on T (the paper does not state the budgets "
            "behind its figures). "
            + (f"Median above T in {', '.join(f'`{c}`' for c in over)}: even the fastest "
               "usable variant did not fit there. " if over else "It met T (median) in every "
               "context. ")
            + (f"Accuracy against the deepest exit's test top-1 ({fmt(100 * e4, 1)}%): "
               + ", ".join(f"`{c}` {fmt(l, 1)} points" for c, l in losses)
               + f" lower (paper: under {paper.get('accuracy_loss_below_pct', 4)}%; the "
               "demo scores only the images it ran, so a few points are noise in the "
               "quick budget)." if losses else ""))
    lines.append(
        "- *Engine against eager*: the engine column is AdaScale's deployed form; the zoo "
        "runs eager here, so engine speed-ups include the engine's own 1.6–1.8× over eager "
        "(README, Inference engine) and the eager column is the like-for-like comparison.")
    idle = next((s for s in summary_rows if s["spec"]["name"] == "idle_2t"), None)
    if idle and idle["s_e1"][1] and len(summary_rows) > 1:
        grew = [(s["spec"]["name"], s["s_e1"][1] / idle["s_e1"][1]) for s in summary_rows
                if s is not idle and s["s_e1"][1]]
        lines.append(
            "- *Contexts against devices*: a core, a quota and stress-ng are how we limit "
            "this VM; the paper's Pi 4B is a much slower device than its Jetson NX, which is "
            "why its speed-ups are larger. Here the top of the stage-1 speed-up range is "
            + ", ".join(f"{g:.2f}× its `idle_2t` value in `{c}`" for c, g in grew) + "."
            + (" It grows where a baseline's latency is dominated by waiting for a "
               "descheduled worker thread (a cost per layer, so many-layer models suffer "
               "most; README, the two tables) rather than by its MACs."
               if any(g > 1.1 for _, g in grew) else ""))
    quota = [s for s in summary_rows if s["spec"].get("cpu_quota_pct")]
    for s in quota:
        lines.append(
            f"- *The quota context* (`{s['spec']['name']}`): CFS bandwidth control lets a "
            "process run its share of each 100 ms period and then stops it, so a batch-1 "
            "inference of a few ms is either untouched or stalled for the rest of the "
            "period: medians barely move and the cost shows in the tail (adaptive p95 "
            f"{fmt(s['ad'].get('latency_p95_ms'))} ms) and in throughput, not in the "
            "median figures above.")
    stressed = [s for s in summary_rows if s["spec"].get("stress_cpu")]
    if stressed:
        lines.append(
            "- *Under stress-ng* (" + ", ".join(f"`{s['spec']['name']}`" for s in stressed)
            + "): every fixed-thread entry (the baselines and the eager and engine exits) "
            "runs 2 intra-op threads, and a parallel region waits for whichever worker the "
            "scheduler has descheduled, so latencies jump to hundreds of ms and vary from "
            "run to run (the engine row of one stress context can read fast and the other "
            "slow). The adaptive runtime's thread governor drops to the cores the stressors "
            "leave, which is where its 100×+ speed-ups come from: they compare a deployment "
            "that adapts its threads with ones that do not, not the networks alone.")
    lines.append(
        "- *Machine noise*: this VM is shared; the load average before each context is in "
        "the latency table, and a context measured while another job ran reads slower.")

    # Fig. 9: cross-device predictions from the tables (unvalidated).
    tables = run / "tables.csv"
    if tables.is_file():
        trunk = json.loads((run / "summary.json").read_text()).get("trunk", [])
        with tables.open() as f:
            pred = {(r["variant"], r["device"]): float(r["predicted_latency_ms"])
                    for r in csv.DictReader(f) if r["batch"] == "1"}
        devices = sorted({d for _, d in pred})
        body = [[v] + [fmt(pred.get((v, d))) for d in devices] for v in trunk]
        low = paper.get("lowest_latency_s", {})
        lines += ["", "## Fig. 9: the trunk exits on other devices (predicted, unvalidated)", "",
                  "The run's tables predict every variant's latency for each device profile "
                  "(`configs/devices/`); only `dev_vm_epyc` is measured, the boards borrow its "
                  "fitted scales (README, the two tables). Paper's lowest latencies: "
                  + ", ".join(f"{k} {v} s" for k, v in low.items()) + ".", ""]
        lines += table(["trunk exit (ms, batch 1)"] + devices, body)
    exp.write_report("Figs. 6, 7(a,b), 9: latency in resource-constrained contexts", lines)


if __name__ == "__main__":
    main(NAME, __doc__.splitlines()[0], body)
