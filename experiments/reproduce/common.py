"""Shared plumbing of the paper-reproduction drivers (issue 7).

Every paper result has one YAML and one driver beside this file:
``experiments/reproduce/<name>.yaml`` and ``<name>.py``. A driver is run as

    /usr/bin/python3 experiments/reproduce/<name>.py [--budget quick|full] [--force]

and writes ``results.csv``, ``report.md`` and ``plot.png`` to
``experiments/results/<name>/`` (full budget, committed) or
``experiments/results/quick/<name>/`` (quick budget, a smoke run). Long steps
go through ``Experiment.run`` with a stamp name: a finished step leaves a
stamp under ``runs/reproduce/<budget>/<name>/stamps/`` holding its stdout,
so running the driver again after an interruption skips it (``--force``
clears the stamps). Training runs resume through ``adascale train --resume``.

The YAML holds the driver's settings: top-level keys apply to every budget,
and the ``quick:`` / ``full:`` maps override them per budget. The paper's own
numbers live in ``paper.yaml`` (one map per result), so a report can print
them beside ours.

Standard library plus PyYAML and matplotlib (both installed by
scripts/setup.sh); no project code is imported, only the built binaries run.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as _dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

# ADASCALE_REPRODUCE_ROOT moves the whole tree (settings, results, stamps)
# to another directory; tests use it on a temporary one.
if os.environ.get("ADASCALE_REPRODUCE_ROOT"):
    ROOT = Path(os.environ["ADASCALE_REPRODUCE_ROOT"]).resolve()
    HERE = ROOT / "experiments" / "reproduce"
else:
    ROOT = Path(__file__).resolve().parents[2]
    HERE = Path(__file__).resolve().parent
BUDGETS = ("quick", "full")


class DriverError(RuntimeError):
    """A one-line cause; main() prints it and exits non-zero."""


def binary(name: str = "adascale") -> Path:
    """A built binary under build/bin (BUILD_DIR overrides build/)."""
    path = ROOT / os.environ.get("BUILD_DIR", "build") / "bin" / name
    if not path.is_file():
        raise DriverError(f"{path} missing: run scripts/setup.sh first")
    return path


def set_flags(values: dict) -> list:
    """``--set key=value`` for each item, as adascale and adascale-demo take
    config values (keys from the root of the command's config; booleans as
    true/false)."""
    flags = []
    for key, value in values.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        flags += ["--set", f"{key}={value}"]
    return flags


def python() -> str:
    """The Debian Python that has torch (comparison scripts)."""
    return "/usr/bin/python3"


def load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise DriverError(f"{path}: no such file") from None
    except yaml.YAMLError as e:
        raise DriverError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DriverError(f"{path}: expected a map at the top level")
    return data


def load_config(name: str, budget: str) -> dict:
    """``<name>.yaml`` with its ``budget`` map merged over the top level."""
    path = HERE / f"{name}.yaml"
    if budget not in BUDGETS:
        raise DriverError(f"{path}: budget must be one of {', '.join(BUDGETS)}, got {budget!r}")
    data = load_yaml(path)
    config = {k: v for k, v in data.items() if k not in BUDGETS}
    override = data.get(budget) or {}
    if not isinstance(override, dict):
        raise DriverError(f"{path}: key '{budget}' must be a map")
    config.update(override)
    return config


def paper_numbers(name: str) -> dict:
    """The paper's figures for one result, from paper.yaml."""
    return load_yaml(HERE / "paper.yaml").get(name, {})


def machine() -> dict:
    """What the report says about where it ran."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": mem_gib,
            "os": platform.platform()}


def load_average() -> float | None:
    """The 1-minute load average (timings are noisy on a busy machine)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def require(path, make: str) -> Path:
    """``path`` (relative to ROOT) if it exists, else DriverError
    '<path> missing: run <make> first'."""
    full = ROOT / path
    if not full.exists():
        raise DriverError(f"{path} missing: run {make} first")
    return full


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class Experiment:
    """One driver's run: its config, directories, steps and outputs."""

    def __init__(self, name: str, budget: str, force: bool = False):
        self.name = name
        self.budget = budget
        self.force = force  # drivers that keep state outside stamps (training runs) honour it
        self.config = load_config(name, budget)
        self.paper = paper_numbers(name)
        self.out_dir = ROOT / "experiments" / "results" / (
            name if budget == "full" else f"quick/{name}")
        self.work_dir = ROOT / "runs" / "reproduce" / budget / name
        self.stamp_dir = self.work_dir / "stamps"
        if force and self.stamp_dir.exists():
            shutil.rmtree(self.stamp_dir)
        self.stamp_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.started = time.time()

    # -- settings -----------------------------------------------------------
    def setting(self, key: str, kind: type | tuple | None = None):
        """``config[key]``; a missing key or a value not of ``kind`` is a
        DriverError naming the YAML file."""
        path = HERE / f"{self.name}.yaml"
        if key not in self.config:
            raise DriverError(f"{path}: missing key '{key}' ({self.budget} budget)")
        value = self.config[key]
        # bool is an int in Python; a YAML `true` is not a count.
        wrong = kind is not None and (not isinstance(value, kind) or (
            isinstance(value, bool) and kind is not bool))
        if wrong:
            want = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise DriverError(f"{path}: {key}: expected {want}, got {value!r}")
        return value

    def make_command(self) -> str:
        """What produces the trained run and bundle for this budget."""
        return "scripts/run.sh --quick" if self.budget == "quick" else "scripts/run.sh"

    def trained_run(self, key: str = "run") -> Path:
        """The run directory named by ``key``; it must hold summary.json."""
        run = self.setting(key, str)
        require(f"{run}/summary.json", self.make_command())
        return ROOT / run

    # -- steps --------------------------------------------------------------
    def done(self, stamp: str) -> bool:
        return (self.stamp_dir / f"{stamp}.done").is_file()

    def run(self, cmd: list, stamp: str | None = None, env: dict | None = None,
            timeout: float | None = None, quiet: bool = False) -> str:
        """Runs ``cmd`` from the repository root and returns its stdout.

        With ``stamp``, a finished step is skipped on the next run and its
        stored stdout returned. stderr passes through (progress lines); a
        non-zero exit raises DriverError naming the command."""
        cmd = [str(c) for c in cmd]
        if stamp and self.done(stamp):
            print(f"[{self.name}] skip {stamp} (done)", flush=True)
            return (self.stamp_dir / f"{stamp}.out").read_text()
        print(f"[{self.name}] $ {shlex.join(cmd)}", flush=True)
        full_env = dict(os.environ)
        full_env.update(env or {})
        t0 = time.time()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=full_env, text=True,
                                  stdout=subprocess.PIPE, timeout=timeout)
        except FileNotFoundError:
            raise DriverError(f"{cmd[0]}: not found") from None
        except subprocess.TimeoutExpired:
            raise DriverError(f"{shlex.join(cmd)}: timed out after {timeout} s") from None
        if proc.returncode != 0:
            tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout else []
            raise DriverError(f"{shlex.join(cmd)} exited {proc.returncode}"
                              + (f": {tail[0]}" if tail else ""))
        if not quiet and proc.stdout:
            sys.stdout.write(proc.stdout)
        print(f"[{self.name}] ({time.time() - t0:.0f} s)", flush=True)
        if stamp:
            (self.stamp_dir / f"{stamp}.out").write_text(proc.stdout)
            (self.stamp_dir / f"{stamp}.done").write_text(
                json.dumps({"cmd": cmd, "seconds": time.time() - t0}) + "\n")
        return proc.stdout

    def run_json(self, cmd: list, stamp: str | None = None, **kw) -> dict:
        """run() for a command that prints one JSON object."""
        out = self.run(cmd, stamp=stamp, quiet=True, **kw)
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            raise DriverError(f"{shlex.join(str(c) for c in cmd)}: output is not JSON") from None

    # -- outputs ------------------------------------------------------------
    def write_csv(self, rows: list, columns: list | None = None) -> Path:
        """results.csv; columns default to the first row's keys in order."""
        if not rows:
            raise DriverError(f"{self.name}: no result rows to write")
        columns = columns or list(rows[0].keys())
        path = self.out_dir / "results.csv"
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({k: _cell(r.get(k)) for k in columns})
        return path

    @contextlib.contextmanager
    def figure(self, *args, **kwargs):
        """``with exp.figure(1, 2, figsize=(10, 4)) as (fig, axes):`` saves
        plot.png (150 dpi) when the block ends."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(*args, **kwargs)
        try:
            yield fig, axes
            fig.tight_layout()
            fig.savefig(self.out_dir / "plot.png", dpi=150)
        finally:
            plt.close(fig)

    def write_report(self, title: str, body: list) -> Path:
        """report.md: title, how to regenerate, where it ran, then ``body``
        (Markdown lines), then the plot."""
        m = machine()
        lines = [
            f"# {title}", "",
            f"Regenerate: `scripts/reproduce.sh --budget {self.budget} --only {self.name}`"
            f" (or `/usr/bin/python3 experiments/reproduce/{self.name}.py --budget {self.budget}`).",
            f"Settings: `experiments/reproduce/{self.name}.yaml` ({self.budget} budget).",
            f"Ran {_dt.date.today().isoformat()} at commit {git_commit()} on {m['cpu']}, "
            f"{m['cores']} cores, {m['memory_gib']} GiB; driver time "
            f"{time.time() - self.started:.0f} s (finished steps are reused).",
            "",
        ]
        lines += body
        if (self.out_dir / "plot.png").is_file():
            lines += ["", "![plot](plot.png)"]
        path = self.out_dir / "report.md"
        path.write_text("\n".join(lines).rstrip() + "\n")
        return path


def _cell(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else v



def niced(exp: "Experiment", cmd: list) -> list:
    """``cmd`` under ``nice -n <exp.config['nice']>`` when that is set."""
    n = exp.config.get("nice", 0)
    cmd = [str(c) for c in cmd]
    return ["nice", "-n", str(n)] + cmd if n else cmd


def rel(path) -> str:
    """``path`` relative to the repository root when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def fmt(v, digits: int = 2) -> str:
    """A report cell: floats to ``digits`` places, missing values as a dash."""
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)

def table(columns: list, rows: list) -> list:
    """A Markdown table as lines; cells are printed as given."""
    out = ["| " + " | ".join(columns) + " |",
           "| " + " | ".join("---" for _ in columns) + " |"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return out


def main(name: str, description: str, body) -> None:
    """Parses --budget/--force, builds the Experiment and calls
    ``body(exp)``; a DriverError becomes one line on stderr and exit 1."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--budget", default="full", choices=BUDGETS,
                        help="quick: a smoke run in minutes; full: the committed results")
    parser.add_argument("--force", action="store_true",
                        help="forget finished steps and run everything again")
    args = parser.parse_args()
    try:
        exp = Experiment(name, args.budget, args.force)
        body(exp)
        print(f"[{name}] wrote {exp.out_dir.relative_to(ROOT)}/"
              "{results.csv,report.md,plot.png}", flush=True)
    except DriverError as e:
        print(f"{name}: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; run it again to resume", file=sys.stderr)
        sys.exit(130)
