#!/usr/bin/env bash
# Reproduces the paper's results (issue 7): makes sure the trained run and
# bundle exist (scripts/run.sh, or scripts/run.sh --quick), runs every
# driver experiments/reproduce/<name>.py with the budget, then gathers
# experiments/results/REPORT.md (quick: experiments/results/quick/REPORT.md)
# with scripts/report.sh. Interrupt it at any time: drivers skip the steps
# they finished, so running it again resumes. A failing driver does not stop
# the others; it is listed at the end and the exit status is non-zero.
#   scripts/reproduce.sh [--budget quick|full] [--only NAME ...] [--skip-run]
set -euo pipefail
cd "$(dirname "$0")/.."
ORDER=(table2_fig5 tables3_4 constrained_latency branch_storage adaptive_vs_static probes ablations)
usage() {
  echo "usage: scripts/reproduce.sh [--budget quick|full] [--only NAME ...] [--skip-run]" >&2
  echo "  NAME: ${ORDER[*]}" >&2
  echo "  --skip-run: do not call scripts/run.sh (the run and bundle already exist)" >&2
  exit 2
}
budget=full
skip_run=0
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) [ $# -ge 2 ] || usage; budget=$2; shift 2 ;;
    --only)
      shift
      if [ $# -eq 0 ] || [[ "$1" == --* ]]; then usage; fi
      while [ $# -gt 0 ] && [[ "$1" != --* ]]; do only+=("$1"); shift; done ;;
    --skip-run) skip_run=1; shift ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
done
case "$budget" in quick|full) ;; *) usage ;; esac
for name in ${only[@]+"${only[@]}"}; do
  [[ " ${ORDER[*]} " == *" $name "* ]] || { echo "reproduce.sh: unknown result '$name'" >&2; usage; }
done
names=("${ORDER[@]}")
[ ${#only[@]} -eq 0 ] || names=("${only[@]}")

if [ "$skip_run" -eq 0 ]; then
  if [ "$budget" = quick ]; then scripts/run.sh --quick; else scripts/run.sh; fi
fi

failed=()
missing=()
for name in "${names[@]}"; do
  driver="experiments/reproduce/$name.py"
  if [ ! -f "$driver" ]; then
    echo "reproduce.sh: $name: missing driver ($driver); skipped"
    missing+=("$name")
    continue
  fi
  echo "reproduce.sh: $name ($budget budget)"
  if ! /usr/bin/python3 "$driver" --budget "$budget"; then
    failed+=("$name")
  fi
done

scripts/report.sh --budget "$budget" || failed+=("report")

[ ${#missing[@]} -eq 0 ] || echo "reproduce.sh: missing driver: ${missing[*]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "reproduce.sh: FAILED: ${failed[*]} (their errors are above; run again to resume)" >&2
  exit 1
fi
echo "reproduce.sh: done ($budget budget)"
