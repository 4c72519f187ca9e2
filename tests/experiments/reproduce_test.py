"""The reproduction drivers' shared plumbing (experiments/reproduce/common.py
and report.py) on a temporary tree: config merging per budget, one-line
errors naming the file, resumable steps, the output files, and the gathered
REPORT.md. Standard library plus PyYAML; no built binary is needed.

    /usr/bin/python3 -m unittest discover -s tests/experiments -p reproduce_test.py
"""
from __future__ import annotations

import contextlib
import csv
import importlib
import io
import os
import re
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE / "experiments" / "reproduce"))
os.environ.pop("ADASCALE_REPRODUCE_ROOT", None)
import common  # noqa: E402
import report  # noqa: E402

ENV = "ADASCALE_REPRODUCE_ROOT"

# Counts its runs in count.txt (in the working directory, the tree's root).
COUNTER = ("import pathlib; p = pathlib.Path('count.txt'); "
           "p.write_text(str(int(p.read_text()) + 1) if p.exists() else '1'); print('out')")


class ReproduceTest(unittest.TestCase):
    def setUp(self):
        base = os.environ.get("ADASCALE_TEST_TMP")
        if base:
            Path(base).mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="reproduce_", dir=base))
        self.here = self.root / "experiments" / "reproduce"
        self.here.mkdir(parents=True)
        (self.here / "paper.yaml").write_text("demo: {overhead_pct: {2: 13.2}}\n")
        os.environ[ENV] = str(self.root)
        importlib.reload(common)  # report.py holds the same module object

    def tearDown(self):
        os.environ.pop(ENV, None)
        importlib.reload(common)
        shutil.rmtree(self.root, ignore_errors=True)

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def experiment(self, budget="full", force=False, name="demo"):
        with contextlib.redirect_stdout(io.StringIO()):
            return common.Experiment(name, budget, force)

    def assert_error_names(self, fn, *needles):
        with self.assertRaises(common.DriverError) as ctx:
            fn()
        message = str(ctx.exception)
        self.assertNotIn("\n", message)
        for n in needles:
            self.assertIn(str(n), message)
        return message

    # -- configs --------------------------------------------------------------
    def test_root_override_and_default(self):
        self.assertEqual(common.ROOT, self.root.resolve())
        self.assertEqual(common.HERE, self.here.resolve())
        os.environ.pop(ENV)
        importlib.reload(common)
        self.assertEqual(common.ROOT, SOURCE)
        self.assertEqual(common.HERE, SOURCE / "experiments" / "reproduce")

    def test_budget_map_overrides_top_level(self):
        self.write("experiments/reproduce/demo.yaml",
                   "run: runs/full\nrepeats: 3\nsearch: {queries: 10, large: 5}\n"
                   "quick:\n  run: runs/quick\n  search: {queries: 1}\n")
        full = common.load_config("demo", "full")
        quick = common.load_config("demo", "quick")
        self.assertEqual(full, {"run": "runs/full", "repeats": 3,
                                "search": {"queries": 10, "large": 5}})
        # A budget's map replaces a top-level key whole.
        self.assertEqual(quick, {"run": "runs/quick", "repeats": 3, "search": {"queries": 1}})
        self.assertEqual(self.experiment("quick").config, quick)
        self.assertEqual(self.experiment("full").paper, {"overhead_pct": {2: 13.2}})

    def test_bad_yaml_or_budget_names_the_file(self):
        path = self.write("experiments/reproduce/demo.yaml", "run: [runs/a\n")
        self.assert_error_names(lambda: common.load_config("demo", "full"), path, "not valid YAML")
        self.write("experiments/reproduce/demo.yaml", "- a\n- b\n")
        self.assert_error_names(lambda: common.load_config("demo", "full"), path, "map")
        self.write("experiments/reproduce/demo.yaml", "run: a\nquick: 3\n")
        self.assert_error_names(lambda: common.load_config("demo", "quick"), path, "'quick'")
        self.assert_error_names(lambda: common.load_config("demo", "medium"), path, "'medium'")
        self.assert_error_names(lambda: common.load_config("absent", "full"),
                                self.here / "absent.yaml")

    def test_settings_and_missing_run_are_one_line(self):
        path = self.write("experiments/reproduce/demo.yaml",
                          "run: runs/full\ncount: true\nquick: {run: runs/quick}\n")
        exp = self.experiment("quick")
        self.assertEqual(exp.setting("run", str), "runs/quick")
        self.assert_error_names(lambda: exp.setting("bundle"), path, "'bundle'")
        self.assert_error_names(lambda: exp.setting("count", int), path, "count", "True")
        self.assertEqual(
            self.assert_error_names(exp.trained_run),
            "runs/quick/summary.json missing: run scripts/run.sh --quick first")
        self.write("runs/quick/summary.json", "{}")
        self.assertEqual(exp.trained_run(), self.root / "runs/quick")

    # -- steps ------------------------------------------------------------------
    def test_stamp_skips_a_finished_step_and_force_reruns_it(self):
        self.write("experiments/reproduce/demo.yaml", "x: 1\n")
        cmd = [sys.executable, "-c", COUNTER]
        count = self.root / "count.txt"
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(self.experiment().run(cmd, stamp="step"), "out\n")
            self.assertEqual(count.read_text(), "1")
            # A second driver run reuses the stored output.
            exp = self.experiment()
            self.assertTrue(exp.done("step"))
            self.assertEqual(exp.run(cmd, stamp="step"), "out\n")
            self.assertEqual(count.read_text(), "1")
            # Without a stamp, a step always runs.
            exp.run(cmd)
            self.assertEqual(count.read_text(), "2")
            # --force forgets finished steps.
            exp = self.experiment(force=True)
            self.assertFalse(exp.done("step"))
            exp.run(cmd, stamp="step")
            self.assertEqual(count.read_text(), "3")
            fail = [sys.executable, "-c", "print('why'); raise SystemExit(3)"]
            msg = self.assert_error_names(lambda: exp.run(fail, stamp="bad"), "exited 3", "why")
            self.assertIn(sys.executable, msg)
            self.assertFalse(exp.done("bad"))
            self.assertEqual(exp.run_json([sys.executable, "-c", "print('{\"a\": 1}')"]),
                             {"a": 1})
            self.assert_error_names(lambda: exp.run_json([sys.executable, "-c", "print(1, 2)"]),
                                    "not JSON")

    # -- outputs ----------------------------------------------------------------
    def test_write_csv_and_report(self):
        self.write("experiments/reproduce/demo.yaml", "x: 1\n")
        exp = self.experiment("quick")
        self.assertEqual(exp.out_dir, self.root / "experiments/results/quick/demo")
        self.assert_error_names(lambda: exp.write_csv([]), "no result rows")
        path = exp.write_csv([{"k": 2, "ours": 0.123456789, "note": None},
                              {"k": 3, "ours": 1.5, "note": "x"}])
        with path.open() as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(rows, [{"k": "2", "ours": "0.123457", "note": ""},
                                {"k": "3", "ours": "1.5", "note": "x"}])

        md = exp.write_report("Demo result", ["| a | b |", "", "one sentence."]).read_text()
        self.assertTrue(md.startswith("# Demo result\n"))
        self.assertIn("scripts/reproduce.sh --budget quick --only demo", md)
        self.assertIn("one sentence.", md)
        self.assertNotIn("![plot]", md)  # no plot.png yet
        (exp.out_dir / "plot.png").write_bytes(b"\x89PNG")
        md = exp.write_report("Demo result", ["body"]).read_text()
        self.assertTrue(md.rstrip().endswith("![plot](plot.png)"))

    def test_figure_saves_plot(self):
        self.write("experiments/reproduce/demo.yaml", "x: 1\n")
        exp = self.experiment()
        with exp.figure(1, 2) as (fig, axes):
            axes[0].bar([0, 1], [1, 2])
        self.assertTrue((exp.out_dir / "plot.png").read_bytes().startswith(b"\x89PNG"))

    # -- the gathered report ----------------------------------------------------
    def test_report_gathers_results_and_marks_missing(self):
        self.write("experiments/results/first/report.md",
                   "# First result\n\nbody one\n\n[csv](results.csv) "
                   "[paper](https://example.org/x.png) [top](#first-result)\n\n"
                   "```\n# not a heading\n```\n\n![plot](plot.png)\n")
        self.write("experiments/results/first/plot.png", "png")
        self.write("experiments/results/second/report.md",
                   "# Second result\n\n## Detail\n\n<img src=\"plot.png\" width=\"50%\">\n")
        self.write("experiments/results/second/plot.png", "png")
        names = ("first", "absent", "second")
        with contextlib.redirect_stdout(io.StringIO()):
            path = report.gather("full", root=self.root, names=names)
        self.assertEqual(path, self.root / "experiments/results/REPORT.md")
        md = path.read_text()
        self.assertTrue(md.startswith("# "))
        self.assertIn("scripts/reproduce.sh --budget full && scripts/report.sh", md)
        self.assertIn("## First result", md)
        self.assertIn("### Detail", md)
        self.assertIn("\n# not a heading\n", md)  # code fences untouched
        self.assertIn("[csv](first/results.csv)", md)
        self.assertIn("(https://example.org/x.png)", md)
        self.assertIn("(#first-result)", md)
        self.assertIn("not yet run: `scripts/reproduce.sh --only absent`", md)
        self.assertLess(md.index("## First result"), md.index("## absent"))
        self.assertLess(md.index("## absent"), md.index("## Second result"))
        images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md) + re.findall(r'src="([^"]+)"', md)
        self.assertEqual(sorted(images), ["first/plot.png", "second/plot.png"])
        for target in images:
            self.assertTrue((path.parent / target).is_file(), target)

        self.write("experiments/results/quick/first/report.md", "# Quick first\n")
        quick = report.gather("quick", root=self.root, names=("first", "second")).read_text()
        self.assertIn("## Quick first", quick)
        self.assertIn("not yet run: `scripts/reproduce.sh --budget quick --only second`", quick)
        self.assert_error_names(lambda: report.gather("medium", root=self.root), "medium")

    def test_report_defaults_to_the_fixed_order(self):
        self.assertEqual(report.ORDER, ("table2_fig5", "tables3_4", "constrained_latency",
                                        "branch_storage", "adaptive_vs_static", "probes",
                                        "ablations"))
        md = report.gather("full").read_text()  # ROOT is the temporary tree
        for name in report.ORDER:
            self.assertIn(f"not yet run: `scripts/reproduce.sh --only {name}`", md)


if __name__ == "__main__":
    unittest.main()
