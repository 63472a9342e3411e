"""Mondrian in plain Python and NumPy: the test oracle and the speed baseline.

Written for clarity, not speed. It implements the one definition of the
algorithm in DESIGN.md with the same exact rules as ``cpp/mondrian.hpp``:

* a partition with fewer than 2k rows is final;
* cuttable dimensions hold at least two distinct values; they are ranked by
  normalised span, widest first, ties by column order (numeric: range over the
  table's range; categorical: distinct values in the partition over distinct
  values in the table);
* strict mode cuts at the lower median m = v[(n-1)//2] of the sorted values:
  "v <= m" or "v < m", whichever leaves a left size L with the smaller
  |2L - n| (ties to "v <= m"), so equal values stay together;
* relaxed mode orders rows by (value, original row index) and sends the first
  n//2 left;
* a cut is allowable when both sides have >= k rows and both satisfy the
  diversity criterion; the first allowable dimension is cut;
* final partitions are numbered by their smallest original row index.

``reference.anonymise`` has the same signature and result type as
:func:`medanon.anonymise`, so the two can be swapped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from medanon.privacy.criteria import Criterion, DiversityName, satisfies
from medanon.tabular.anonymise import AnonymisationResult, MissingPolicy, Mode, OutputForm, run
from medanon.tabular.partitioning import Partitioning


def mondrian(
    quasi_identifiers: npt.NDArray[np.float64],
    sensitive: npt.NDArray[np.int32],
    categories: npt.NDArray[np.int64],
    k: int,
    diversity: str,
    l: float,
    c: float,
    mode: str,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Partition rows exactly as ``medanon._core.mondrian`` does.

    Parameters and return value are those of the core: ``quasi_identifiers``
    float64 [n, d]; ``sensitive`` int32 codes [n] (or empty when diversity is
    "none"); ``categories`` int64 [d], 0 for a numeric column, else the size of
    its code domain. Returns ``(labels, mins, maxs, counts)``.

    Examples
    --------
    >>> x = np.array([[1.0], [2.0], [3.0], [4.0]])
    >>> s = np.zeros(0, dtype=np.int32)
    >>> mondrian(x, s, np.zeros(1, np.int64), 2, "none", 1.0, 1.0, "strict")[0]
    array([0, 0, 1, 1])
    """
    x = np.asarray(quasi_identifiers, dtype=np.float64)
    n, d = x.shape
    criterion = Criterion(k=int(k), diversity=diversity, l=l, c=c)  # type: ignore[arg-type]
    codes = np.asarray(sensitive, dtype=np.int64) if criterion.diversity != "none" else np.zeros(n, np.int64)
    cats = np.asarray(categories)
    is_cat = cats > 0
    gmin, gmax = x.min(axis=0), x.max(axis=0)
    gdistinct = [len(np.unique(x[:, j])) if is_cat[j] else 0 for j in range(d)]

    def diverse(rows: npt.NDArray[np.int64]) -> bool:
        return satisfies(criterion, np.bincount(codes[rows]).tolist())

    if not diverse(np.arange(n)):
        raise ValueError("the table as a whole fails the diversity criterion")

    def cut(rows: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
        sub = x[rows]
        size = len(rows)
        ranked: list[tuple[float, int]] = []
        for j in range(d):
            col = sub[:, j]
            if is_cat[j]:
                distinct = len(np.unique(col))
                if distinct < 2:
                    continue
                span = float(distinct) / float(gdistinct[j])
            else:
                lo, hi = col.min(), col.max()
                if not hi > lo:
                    continue
                span = float((hi - lo) / (gmax[j] - gmin[j]))
            ranked.append((-span, j))
        for _, j in sorted(ranked):
            col = sub[:, j]
            if mode == "strict":
                m = np.sort(col)[(size - 1) // 2]
                le, lt = col <= m, col < m
                l1, l0 = int(le.sum()), int(lt.sum())
                if l1 < size and l0 > 0:
                    left = le if abs(2 * l1 - size) <= abs(2 * l0 - size) else lt
                else:
                    left = le if l1 < size else lt
            else:
                order = np.lexsort((rows, col))
                left = np.zeros(size, dtype=bool)
                left[order[: size // 2]] = True
            nleft = int(left.sum())
            if nleft < k or size - nleft < k:
                continue
            if not (diverse(rows[left]) and diverse(rows[~left])):
                continue
            return rows[left], rows[~left]
        return None

    work = [np.arange(n, dtype=np.int64)]
    finals: list[npt.NDArray[np.int64]] = []
    while work:
        rows = work.pop()
        halves = cut(rows) if len(rows) >= 2 * k else None
        if halves is None:
            finals.append(rows)
        else:
            work.extend(halves)
    finals.sort(key=lambda r: int(r.min()))
    labels = np.empty(n, dtype=np.int64)
    mins = np.empty((len(finals), d))
    maxs = np.empty((len(finals), d))
    counts = np.empty(len(finals), dtype=np.int64)
    for p, rows in enumerate(finals):
        labels[rows] = p
        mins[p], maxs[p] = x[rows].min(axis=0), x[rows].max(axis=0)
        counts[p] = len(rows)
    return labels, mins, maxs, counts


def anonymise(
    df: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: str | None = None,
    *,
    k: int = 5,
    l: float | None = None,
    diversity: DiversityName | None = None,
    c: float = 1.0,
    mode: Mode = "strict",
    output: OutputForm = "generalised",
    categorical_order: Mapping[str, Sequence[Any]] | None = None,
    missing: MissingPolicy = "error",
    threads: int | None = None,
) -> AnonymisationResult:
    """:func:`medanon.anonymise`, partitioned by this module's :func:`mondrian`.

    ``threads`` is accepted so that the two functions can be swapped; the
    reference always runs on one thread.

    Examples
    --------
    >>> df = pd.DataFrame({"age": [30, 31, 40, 41], "dx": ["a", "b", "a", "b"]})
    >>> anonymise(df, ["age"], "dx", k=2, l=2).table["age"].tolist()
    ['30-31', '30-31', '40-41', '40-41']
    """
    return run(
        df,
        quasi_identifiers,
        sensitive,
        k=k,
        l=l,
        diversity=diversity,
        c=c,
        mode=mode,
        output=output,
        categorical_order=categorical_order,
        missing=missing,
        partitioner=_partition,
        engine="reference",
    )


def _partition(
    x: npt.NDArray[np.float64],
    s: npt.NDArray[np.int32],
    cats: npt.NDArray[np.int64],
    criterion: Criterion,
    mode: str,
) -> Partitioning:
    labels, mins, maxs, counts = mondrian(x, s, cats, criterion.k, criterion.diversity, criterion.l, criterion.c, mode)
    return Partitioning(labels=labels, mins=mins, maxs=maxs, counts=counts)
