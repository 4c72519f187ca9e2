import csv, sys
def load(p):
    out = {}
    for r in csv.DictReader(open(p)):
        if r["kind"] == "validation" and r["stage"] == "0":
            out[(int(r["epoch"]), int(r["exit"]))] = float(r["top1"]) * 100
    return out
a = load("experiments/results/cifar10_cpu/metrics.csv")
b = load("experiments/results/cifar10_cpu_ddp2/metrics.csv")
epochs = sorted({e for e, _ in b})
print("epoch | 1 process exits 1-4 | 2 ranks exits 1-4 | difference (2 ranks - 1 process)")
diffs = []
for e in epochs:
    pa = [a.get((e, x)) for x in range(1, 5)]
    pb = [b.get((e, x)) for x in range(1, 5)]
    if None in pa or None in pb: continue
    d = [y - x for x, y in zip(pa, pb)]
    diffs.append(d)
    print(f"{e:2d} | {' / '.join(f'{v:.2f}' for v in pa)} | {' / '.join(f'{v:.2f}' for v in pb)} | {' / '.join(f'{v:+.2f}' for v in d)}")
import statistics
for x in range(4):
    col = [d[x] for d in diffs]
    print(f"exit {x+1}: mean difference {statistics.mean(col):+.2f}, mean |difference| {statistics.mean(abs(c) for c in col):.2f} points over {len(col)} epochs")
# epoch-to-epoch noise of the 1-process run itself: mean |change| between consecutive epochs in the second half
