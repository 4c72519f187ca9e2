#!/usr/bin/env bash
# Gathers every experiments/results/<name>/report.md (quick budget:
# experiments/results/quick/<name>/) into REPORT.md beside them, the paper's
# numbers next to ours, every plot embedded. Run scripts/reproduce.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { echo "usage: scripts/report.sh [--budget quick|full]" >&2; exit 2; }
budget=full
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) [ $# -ge 2 ] || usage; budget=$2; shift 2 ;;
    -h|--help) echo "usage: scripts/report.sh [--budget quick|full]"; exit 0 ;;
    *) usage ;;
  esac
done
case "$budget" in quick|full) ;; *) usage ;; esac
exec /usr/bin/python3 experiments/reproduce/report.py --budget "$budget"
