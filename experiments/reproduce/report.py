#!/usr/bin/env python3
"""Gathers every result's report.md into one REPORT.md (issue 7).

    /usr/bin/python3 experiments/reproduce/report.py [--budget quick|full]

reads ``experiments/results/<name>/report.md`` (quick:
``experiments/results/quick/<name>/report.md``) for each name in ORDER and
writes ``REPORT.md`` beside them: an intro (machine, date, commit, how to
regenerate), then each report with its headings one level down and its
relative links and images rebased so they resolve from REPORT.md's folder.
A result not yet run gets one line saying how to run it. It only gathers:
the paper-vs-ours tables and explanations are each driver's.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import re
import sys
from pathlib import Path

import common

ORDER = ("table2_fig5", "tables3_4", "constrained_latency", "branch_storage",
         "adaptive_vs_static", "probes", "ablations")

_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
_IMG_SRC = re.compile(r"(<img\b[^>]*\bsrc=[\"'])([^\"']+)([\"'])")


def results_dir(budget: str, root: Path | None = None) -> Path:
    base = (root or common.ROOT) / "experiments" / "results"
    return base if budget == "full" else base / "quick"


def _relative(target: str) -> bool:
    return not (target.startswith(("/", "#", "mailto:")) or "://" in target)


def rebase(markdown: str, prefix: str) -> str:
    """Prefixes relative link and image targets with ``prefix/`` and moves
    every heading one level down (outside code fences)."""
    def fix(m):
        target = m.group(2)
        return m.group(1) + (f"{prefix}/{target}" if _relative(target) else target) + m.group(3)

    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            if line.startswith("#"):
                line = "#" + line
            line = _IMG_SRC.sub(fix, _LINK.sub(fix, line))
        out.append(line)
    return "\n".join(out)


def _title(markdown: str, fallback: str) -> str:
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def run_command(budget: str, name: str) -> str:
    flag = "" if budget == "full" else f" --budget {budget}"
    return f"scripts/reproduce.sh{flag} --only {name}"


def gather(budget: str = "full", root: Path | None = None, names=ORDER) -> Path:
    """Writes REPORT.md for ``budget`` and returns its path."""
    if budget not in common.BUDGETS:
        raise common.DriverError(f"budget must be one of {', '.join(common.BUDGETS)}, "
                                 f"got {budget!r}")
    out_dir = results_dir(budget, root)
    out_dir.mkdir(parents=True, exist_ok=True)
    m = common.machine()
    regenerate = ("scripts/reproduce.sh --budget full && scripts/report.sh" if budget == "full"
                  else "scripts/reproduce.sh --budget quick && scripts/report.sh --budget quick")
    sections, contents = [], []
    for name in names:
        path = out_dir / name / "report.md"
        if not path.is_file():
            contents.append(f"- `{name}`: not yet run")
            sections += [f"## {name}", "",
                         f"not yet run: `{run_command(budget, name)}`", ""]
            continue
        text = path.read_text()
        contents.append(f"- `{name}`: {_title(text, name)}")
        sections += [rebase(text.rstrip(), name), ""]
    lines = [
        "# AdaScale-C++: the paper's results reproduced",
        "",
        f"{'Full' if budget == 'full' else 'Quick (smoke-test)'} budget, gathered "
        f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} at commit {common.git_commit()} on "
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB ({m['os']}).",
        "",
        f"Regenerate everything: `{regenerate}`. Each section is "
        f"`{out_dir.relative_to(root or common.ROOT)}/<name>/report.md`, written by "
        "`experiments/reproduce/<name>.py` with its settings in `<name>.yaml`, beside "
        "`results.csv` (every number) and `plot.png`; the paper's figures come from "
        "`experiments/reproduce/paper.yaml`. The paper measured on a Jetson Xavier NX, a "
        "Raspberry Pi 4B and GPU servers; we measure on the machine above, so each section "
        "says why its numbers differ.",
        "",
        "## Contents",
        "",
        *contents,
        "",
        *sections,
    ]
    report = out_dir / "REPORT.md"
    report.write_text("\n".join(lines).rstrip() + "\n")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="full", choices=common.BUDGETS)
    args = parser.parse_args()
    try:
        path = gather(args.budget)
    except (common.DriverError, OSError) as e:
        print(f"report: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"report: wrote {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
