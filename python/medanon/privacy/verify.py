"""Measure k and l on a released table, independently of the core.

Plain pandas: group the rows by their (released) quasi-identifier values and
look at each group. Nothing here trusts the partitioning that produced the
release, so it is the check that a release is what it claims.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Verification:
    """Privacy measured on a table.

    Attributes
    ----------
    k : int
        Size of the smallest equivalence class (rows sharing all QI values).
    classes : int
        Number of equivalence classes.
    distinct_l : int | None
        Fewest distinct sensitive values in a class.
    entropy_l : float | None
        exp of the smallest class entropy of the sensitive attribute.
    recursive_l : int | None
        Largest l for which every class is recursive (c,l)-diverse with the
        given c (0 when none is).
    c : float | None
        The c used for ``recursive_l``.
    t : float | None
        t-closeness: the largest distance (EMD) between a class's sensitive
        distribution and the whole table's, when asked for.
    """

    k: int
    classes: int
    rows: int
    distinct_l: int | None = None
    entropy_l: float | None = None
    recursive_l: int | None = None
    c: float | None = None
    t: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return asdict(self)


def _recursive_l(counts: Sequence[int], c: float) -> int:
    r = sorted((v for v in counts if v > 0), reverse=True)
    best = 0
    for l in range(1, len(r) + 1):
        if r[0] < c * sum(r[l - 1 :]):
            best = l
    return best


def verify(
    df: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: str | None = None,
    *,
    c: float = 1.0,
    t_closeness: bool = False,
    count: str | None = None,
) -> Verification:
    """Measure achieved k, distinct/entropy/recursive l and t-closeness of a table.

    Parameters
    ----------
    df : DataFrame
        The released table (missing QI values count as a value of their own).
    quasi_identifiers : sequence of str
        Columns that together identify equivalence classes.
    sensitive : str, optional
        The sensitive attribute; without it only k is measured.
    c : float
        The c of recursive (c,l)-diversity.
    t_closeness : bool
        Also measure t: ordered distance for numeric sensitive values,
        equal distance (half the L1 distance) for categorical ones.
    count : str, optional
        A column holding row multiplicities (the ``aggregate`` release).

    Examples
    --------
    >>> df = pd.DataFrame({"age": ["30-39"] * 3 + ["40-49"] * 3, "dx": list("abcaab")})
    >>> v = verify(df, ["age"], "dx")
    >>> v.k, v.distinct_l
    (3, 2)

    References
    ----------
    Li, Li, Venkatasubramanian, "t-Closeness: Privacy Beyond k-Anonymity and
    l-Diversity", ICDE 2007.
    """
    qis = list(quasi_identifiers)
    missing = [q for q in [*qis, *([sensitive] if sensitive else []), *([count] if count else [])] if q not in df.columns]
    if missing:
        raise ValueError(f"column(s) not in the table: {', '.join(map(str, missing))}")
    if len(df) == 0:
        raise ValueError("the table is empty (0 rows)")
    weights = df[count].astype(np.int64) if count else pd.Series(1, index=df.index, dtype=np.int64)
    keys = [df[q].astype(str).where(df[q].notna(), "<NA>") for q in qis]
    sizes = weights.groupby(keys, sort=False).sum()
    k = int(sizes.min())
    classes = int(len(sizes))
    rows = int(weights.sum())
    if sensitive is None:
        return Verification(k=k, classes=classes, rows=rows)

    sv = df[sensitive]
    table = weights.groupby([*keys, sv.astype(str).where(sv.notna(), "<NA>")], sort=False).sum()
    per_class = table.groupby(level=list(range(len(qis))), sort=False)
    distinct_l = int(per_class.size().min())
    entropy_l = math.inf
    recursive_l = None
    rec = math.inf
    for _, grp in per_class:
        cnt = grp.to_numpy(dtype=np.int64)
        p = cnt / cnt.sum()
        h = float(-(p * np.log(p)).sum())
        entropy_l = min(entropy_l, math.exp(h))
        rec = min(rec, _recursive_l(cnt.tolist(), c))
    recursive_l = int(rec)

    t_val: float | None = None
    if t_closeness:
        t_val = _t_closeness(df, keys, sv, weights)
    return Verification(
        k=k,
        classes=classes,
        rows=rows,
        distinct_l=distinct_l,
        entropy_l=float(entropy_l),
        recursive_l=recursive_l,
        c=float(c),
        t=t_val,
    )


def _t_closeness(df: pd.DataFrame, keys: list[pd.Series], sv: pd.Series, weights: pd.Series) -> float:
    numeric = pd.api.types.is_numeric_dtype(sv.dtype) and not pd.api.types.is_bool_dtype(sv.dtype)
    values = sv.to_numpy()
    order = np.sort(pd.unique(sv.dropna())) if numeric else pd.unique(sv.dropna().astype(str))
    index = {v: i for i, v in enumerate(order.tolist())}
    codes = np.array([index.get(v if numeric else str(v), -1) for v in values.tolist()])
    ok = codes >= 0
    m = len(order)
    w = weights.to_numpy()
    total = np.bincount(codes[ok], weights=w[ok], minlength=m)
    q = total / total.sum()
    worst = 0.0
    group_ids = pd.MultiIndex.from_arrays([s.to_numpy() for s in keys]).factorize()[0] if len(keys) > 1 else keys[0].factorize()[0]
    for g in np.unique(group_ids):
        sel = (group_ids == g) & ok
        pc = np.bincount(codes[sel], weights=w[sel], minlength=m)
        p = pc / pc.sum()
        if numeric and m > 1:
            d = float(np.abs(np.cumsum(p - q))[:-1].sum() / (m - 1))
        else:
            d = float(0.5 * np.abs(p - q).sum())
        worst = max(worst, d)
    return worst
