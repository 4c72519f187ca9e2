"""The usual Python way of answering bench_search's queries: one vectorised
NumPy mask over all rows, then argmax/argmin, with the same tie-breaking as
the C++ search. Reads the case file bench_search writes; prints one JSON
object: the median per-query time (µs) and each query's pick (-1: none)."""
import json
import sys
import time

import numpy as np


def main(path):
    raw = np.fromfile(path, dtype=np.float64)
    n, m = int(raw[0]), int(raw[1])
    rows = raw[2:2 + 3 * n].reshape(n, 3)
    queries = raw[2 + 3 * n:].reshape(m, 6)
    lat = np.ascontiguousarray(rows[:, 0])
    energy = np.ascontiguousarray(rows[:, 1])
    acc = np.ascontiguousarray(rows[:, 2])
    index = np.arange(n)

    def answer(t, e, floor, weighted, alpha, beta):
        mask = (lat <= t) & (energy <= e) & (acc >= floor)
        if not mask.any():
            return -1
        if weighted:
            cost = np.where(mask, alpha * lat + beta * energy, np.inf)
            ties = np.flatnonzero(cost == cost.min())
            if len(ties) == 1:
                return int(ties[0])
            # Ties: higher accuracy, then lower latency, energy, index.
            order = np.lexsort((index[ties], energy[ties], lat[ties],
                                -acc[ties]))
            return int(ties[order[0]])
        score = np.where(mask, acc, -np.inf)
        ties = np.flatnonzero(score == score.max())
        if len(ties) == 1:
            return int(ties[0])
        order = np.lexsort((index[ties], energy[ties], lat[ties]))
        return int(ties[order[0]])

    times, picks = [], []
    for q in queries:
        t0 = time.perf_counter()
        pick = answer(q[0], q[1], q[2], q[3] > 0.5, q[4], q[5])
        times.append((time.perf_counter() - t0) * 1e6)
        picks.append(pick)
    print(json.dumps({"median_us": float(np.median(times)), "best": picks}))


if __name__ == "__main__":
    main(sys.argv[1])
