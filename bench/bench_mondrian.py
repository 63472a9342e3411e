"""pytest-benchmark: the C++ core vs reference.py vs the naive pandas Mondrian.

    python -m pytest bench/bench_mondrian.py --benchmark-only --benchmark-columns=min,mean,rounds

All three partition the same table (8 quasi-identifiers, k = 10, distinct l = 3);
the core on one thread and on every available core.
The naive baseline runs once per size (it takes minutes at 100k rows).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import data
import naive_pandas

from medanon import _core, reference
from medanon.tabular.partitioning import available_cores

K, L = 10, 3.0


@pytest.mark.parametrize("threads", [1, available_cores()])
@pytest.mark.parametrize("n", [10_000, 100_000])
def test_core(benchmark: Any, n: int, threads: int) -> None:
    x, s, cats = data.arrays(n)
    _, _, _, counts = benchmark(_core.mondrian, x, s, cats, K, "distinct", L, 1.0, "strict", threads)
    assert counts.min() >= K


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_reference(benchmark: Any, n: int) -> None:
    x, s, cats = data.arrays(n)
    out = benchmark.pedantic(
        reference.mondrian, args=(x, s, cats, K, "distinct", L, 1.0, "strict"), rounds=1, iterations=1
    )
    assert out[3].min() >= K


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_naive_pandas(benchmark: Any, n: int) -> None:
    df = data.table(n)
    parts = benchmark.pedantic(
        naive_pandas.anonymise, args=(df, data.QIS, "diagnosis", K, int(L), data.CATEGORICAL), rounds=1, iterations=1
    )
    assert min(len(p) for p in parts) >= K


@pytest.mark.parametrize("n", [100_000])
def test_anonymise_end_to_end(benchmark: Any, n: int) -> None:
    import medanon

    df = data.table(n)
    r = benchmark.pedantic(medanon.anonymise, args=(df, data.QIS, "diagnosis"), kwargs={"k": K, "l": L}, rounds=3)
    assert r.report.achieved["k"] >= K
