"""The result of Mondrian partitioning, and the call into the C++ core."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from medanon import _core
from medanon.privacy.criteria import Criterion


@dataclass(frozen=True)
class Partitioning:
    """Final Mondrian partitions of an encoded table.

    Attributes
    ----------
    labels : ndarray of int64, shape (n,)
        Partition number of each row; partitions are numbered in ascending
        order of the smallest row index they contain.
    mins, maxs : ndarray of float64, shape (p, d)
        Per-partition bounds of each encoded quasi-identifier.
    counts : ndarray of int64, shape (p,)
        Rows per partition.
    """

    labels: npt.NDArray[np.int64]
    mins: npt.NDArray[np.float64]
    maxs: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int64]

    @property
    def n_partitions(self) -> int:
        """Number of final partitions."""
        return int(self.counts.shape[0])

    def same_as(self, other: Partitioning) -> bool:
        """True when both hold identical partitions, numbering and bounds.

        Examples
        --------
        >>> p = Partitioning(np.zeros(2, np.int64), np.zeros((1, 1)), np.ones((1, 1)), np.array([2]))
        >>> p.same_as(p)
        True
        """
        return (
            np.array_equal(self.labels, other.labels)
            and np.array_equal(self.mins, other.mins)
            and np.array_equal(self.maxs, other.maxs)
            and np.array_equal(self.counts, other.counts)
        )


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity, where the OS has one).

    Examples
    --------
    >>> available_cores() >= 1
    True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int | None) -> int:
    """``threads`` checked, or every available core when None.

    Examples
    --------
    >>> resolve_threads(2)
    2
    """
    if threads is None:
        return available_cores()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 1 <= threads <= 1024:
        raise ValueError(f"threads must be an integer from 1 to 1024 or None (every core), got {threads!r}")
    return int(threads)


def partition_with_core(
    x: npt.NDArray[np.float64],
    sensitive: npt.NDArray[np.int32],
    categories: npt.NDArray[np.int64],
    criterion: Criterion,
    mode: str,
    threads: int | None = 1,
) -> Partitioning:
    """Run the C++ core on already-encoded, C-contiguous arrays.

    ``threads`` workers share the subtrees (None: every available core); the
    partitions do not depend on it.

    Examples
    --------
    >>> x = np.array([[1.0], [2.0], [3.0], [4.0]])
    >>> s = np.zeros(0, np.int32)
    >>> partition_with_core(x, s, np.zeros(1, np.int64), Criterion(k=2), "strict").counts
    array([2, 2])
    """
    labels, mins, maxs, counts = _core.mondrian(
        x,
        sensitive,
        categories,
        criterion.k,
        criterion.diversity,
        criterion.l,
        criterion.c,
        mode,
        resolve_threads(threads),
    )
    return Partitioning(labels=labels, mins=mins, maxs=maxs, counts=counts)
