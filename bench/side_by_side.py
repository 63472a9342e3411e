"""Core against the reference in one process, interleaved: the ratio the README quotes.

Each round takes the core's best and median of 15 calls on one thread and on
every core, and the reference's best of 3, one after the other, so that the
machine's changes of speed fall on both (8 quasi-identifiers, k = 10,
distinct l = 3).

    python bench/side_by_side.py [--rows 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import data

from medanon import _core, reference
from medanon.tabular.partitioning import available_cores


def timings(f: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best and median of `repeats` calls, in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    x, s, cats = data.arrays(args.rows)
    cores = available_cores()
    print(f"{args.rows:,} rows, split kernel {_core.split_kernel()}, {cores} cores")
    for _ in range(args.rounds):
        one, one_med = timings(lambda: _core.mondrian(x, s, cats, 10, "distinct", 3.0, 1.0, "strict", 1), 15)
        many, many_med = timings(lambda: _core.mondrian(x, s, cats, 10, "distinct", 3.0, 1.0, "strict", cores), 15)
        ref, _ = timings(lambda: reference.mondrian(x, s, cats, 10, "distinct", 3.0, 1.0, "strict"), 3)
        print(
            f"core 1 thread {one * 1e3:5.1f} ms (median {one_med * 1e3:5.1f}), "
            f"{cores} threads {many * 1e3:5.1f} ms (median {many_med * 1e3:5.1f}), reference {ref * 1e3:4.0f} ms"
            f"  ->  best {ref / one:3.0f}x / {ref / many:3.0f}x, median {ref / one_med:3.0f}x / {ref / many_med:3.0f}x"
        )


if __name__ == "__main__":
    main()
