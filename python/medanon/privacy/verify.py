"""Measure k and l on a released table, independently of the core.

Plain pandas: group the rows by their (released) quasi-identifier values and
look at each group. Nothing here trusts the partitioning that produced the
release, so it is the check that a release is what it claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
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
    missing = [
        q for q in [*qis, *([sensitive] if sensitive else []), *([count] if count else [])] if q not in df.columns
    ]
    if missing:
        raise ValueError(f"column(s) not in the table: {', '.join(map(str, missing))}")
    if len(df) == 0:
        raise ValueError("the table is empty (0 rows)")
    weights = df[count].to_numpy(dtype=np.int64) if count else np.ones(len(df), dtype=np.int64)
    # one integer per equivalence class (a missing value is a value of its own)
    group = _class_ids([pd.factorize(df[q], use_na_sentinel=False)[0] for q in qis])
    n_groups = int(group.max()) + 1
    sizes = np.bincount(group, weights=weights, minlength=n_groups)
    k = int(sizes.min())
    rows = int(weights.sum())
    if sensitive is None:
        return Verification(k=k, classes=n_groups, rows=rows)

    s_codes = pd.factorize(df[sensitive], use_na_sentinel=False)[0]
    pair = pd.DataFrame({"g": group, "s": s_codes, "w": weights}).groupby(["g", "s"], sort=True)["w"].sum()
    g = pair.index.get_level_values(0).to_numpy()
    cnt = pair.to_numpy(dtype=np.float64)
    totals = sizes[g]
    distinct_l = int(np.bincount(g, minlength=n_groups).min())
    p = cnt / totals
    entropy = np.bincount(g, weights=-p * np.log(p), minlength=n_groups)
    entropy_l = float(np.exp(entropy.min()))
    # recursive (c,l): counts of each class in descending order r_1 >= r_2 >= ...;
    # the largest l with r_1 < c * (r_l + ... + r_m) is the number of ranks i
    # whose tail sum (from i on) still exceeds r_1 / c, as tails only shrink.
    order = np.lexsort((-cnt, g))
    g_sorted, c_sorted = g[order], cnt[order]
    first = np.r_[True, g_sorted[1:] != g_sorted[:-1]]
    start_idx = np.flatnonzero(first)
    r1 = c_sorted[start_idx][np.cumsum(first) - 1]
    csum = np.cumsum(c_sorted)
    before = csum - c_sorted - (csum - c_sorted)[start_idx][np.cumsum(first) - 1]
    tail = totals[order] - before
    ok = r1 < c * tail
    recursive_l = int(np.bincount(g_sorted, weights=ok, minlength=n_groups).min())

    t_val: float | None = None
    if t_closeness:
        keys = [df[q] for q in qis]
        t_val = _t_closeness(df, keys, df[sensitive], pd.Series(weights, index=df.index))
    return Verification(
        k=k,
        classes=n_groups,
        rows=rows,
        distinct_l=distinct_l,
        entropy_l=entropy_l,
        recursive_l=recursive_l,
        c=float(c),
        t=t_val,
    )


def _class_ids(codes: list[npt.NDArray[np.intp]]) -> npt.NDArray[np.int64]:
    """Dense class numbers of rows given each column's value codes (mixed radix, 1-D sort)."""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    radix = 1
    for c in codes:
        size = int(c.max()) + 1
        if radix * size >= 2**62:  # too many combinations for one int64: re-densify first
            key = np.unique(key, return_inverse=True)[1].astype(np.int64).ravel()
            radix = int(key.max()) + 1
        key = key * size + c
        radix *= size
    ids: npt.NDArray[np.int64] = np.unique(key, return_inverse=True)[1].astype(np.int64).ravel()
    return ids


def _t_closeness(df: pd.DataFrame, keys: list[pd.Series], sv: pd.Series, weights: pd.Series) -> float:
    numeric = pd.api.types.is_numeric_dtype(sv.dtype) and not pd.api.types.is_bool_dtype(sv.dtype)
    values = sv.to_numpy()
    order = np.sort(np.asarray(pd.unique(sv.dropna()))) if numeric else np.asarray(pd.unique(sv.dropna().astype(str)))
    index = {v: i for i, v in enumerate(order.tolist())}
    codes = np.array([index.get(v if numeric else str(v), -1) for v in values.tolist()])
    ok = codes >= 0
    m = len(order)
    w = weights.to_numpy()
    total = np.bincount(codes[ok], weights=w[ok], minlength=m)
    q = total / total.sum()
    worst = 0.0
    group_ids = (
        pd.MultiIndex.from_arrays([s.to_numpy() for s in keys]).factorize()[0]
        if len(keys) > 1
        else keys[0].factorize()[0]
    )
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
