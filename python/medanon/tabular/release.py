"""Decode partitions into a release: generalised, aggregate or centroid.

* ``generalised``: every kept row, each quasi-identifier replaced by its
  partition's range ("30-39", "2020-01-03/2020-02-11") or value set
  ("{Divorced, Married}"); a single value is written as itself.
* ``aggregate``: one row per (partition, sensitive value) with a ``count``.
* ``centroid``: numbers, dates and durations replaced by the partition mean
  (means are kept exactly); categorical values by the value itself when the
  partition holds one, else the value set.
Columns that are not quasi-identifiers are kept unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from medanon.tabular.encode import EncodedColumn, EncodedTable
from medanon.tabular.partitioning import Partitioning

OutputForm = Literal["generalised", "aggregate", "centroid"]
OUTPUT_FORMS: tuple[str, ...] = ("generalised", "aggregate", "centroid")


def _num(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)
    return str(v)


def format_range(lo: Any, hi: Any) -> str:
    """Write a numeric range the way people read it.

    Examples
    --------
    >>> format_range(30, 39), format_range(7, 7), format_range(-5, 3), format_range(1.5, 2.25)
    ('30-39', '7', '[-5, 3]', '1.5-2.25')
    """
    a, b = _num(lo), _num(hi)
    if a == b:
        return a
    if a.startswith("-") or b.startswith("-"):
        return f"[{a}, {b}]"
    return f"{a}-{b}"


def _fmt_time(t: pd.Timestamp) -> str:
    if t.tz is None and t == t.normalize():
        return str(t.date())
    return t.isoformat()


def format_value_set(values: Sequence[Any]) -> str:
    """Write a set of categories: the value itself when there is one.

    Examples
    --------
    >>> format_value_set(["F"]), format_value_set(["F", "M"])
    ('F', '{F, M}')
    """
    if len(values) == 1:
        return str(values[0])
    return "{" + ", ".join(str(v) for v in values) + "}"


def category_pairs(codes: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The distinct (partition, category code) pairs, sorted, as an [m, 2] array.

    One int64 key per row (partition * domain + code) keeps this a 1-D sort.
    """
    c = codes.astype(np.int64)
    domain = int(c.max()) + 1 if len(c) else 1
    keys = np.unique(labels.astype(np.int64) * domain + c)
    return np.stack([keys // domain, keys % domain], axis=1)


def _category_sets(codes: npt.NDArray[np.float64], labels: npt.NDArray[np.int64], p: int) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in range(p)]
    for part, code in category_pairs(codes, labels).tolist():
        out[part].append(code)
    return out


def format_ranges(lo: Sequence[Any], hi: Sequence[Any]) -> list[str]:
    """:func:`format_range` over many ranges, formatting each distinct bound once.

    Examples
    --------
    >>> format_ranges([30, 7], [39, 7])
    ['30-39', '7']
    """
    text = {v: _num(v) for v in set(lo) | set(hi)}
    out = []
    for a, b in zip(lo, hi, strict=True):
        x, y = text[a], text[b]
        out.append(x if x == y else (f"[{x}, {y}]" if x[0] == "-" or y[0] == "-" else f"{x}-{y}"))
    return out


def partition_strings(
    col: EncodedColumn,
    values: pd.Series,
    codes: npt.NDArray[np.float64],
    part: Partitioning,
) -> list[str]:
    """One generalised string per partition for one quasi-identifier column."""
    p = part.n_partitions
    if col.kind == "categorical":
        sets = _category_sets(codes, part.labels, p)
        return [format_value_set([col.labels[c] for c in s]) for s in sets]
    grouped = values.groupby(part.labels, sort=True)
    lo, hi = grouped.min(), grouped.max()
    if col.kind == "datetime":
        return [
            _fmt_time(a) if a == b else f"{_fmt_time(a)}/{_fmt_time(b)}"
            for a, b in zip(lo.tolist(), hi.tolist(), strict=True)
        ]
    if col.kind == "timedelta":
        return [str(a) if a == b else f"{a}/{b}" for a, b in zip(lo.tolist(), hi.tolist(), strict=True)]
    return format_ranges(lo.tolist(), hi.tolist())


def partition_centroids(
    col: EncodedColumn, values: pd.Series, codes: npt.NDArray[np.float64], part: Partitioning
) -> pd.Series:
    """The centroid value of each partition for one column (index: partition)."""
    if col.kind == "categorical":
        return pd.Series(partition_strings(col, values, codes, part), dtype=object)
    if col.kind in ("integer", "float"):
        return values.astype(np.float64).groupby(part.labels, sort=True).mean()
    return values.groupby(part.labels, sort=True).mean()


def build_release(
    df: pd.DataFrame,
    enc: EncodedTable,
    part: Partitioning,
    sensitive: str | None,
    output: OutputForm,
) -> pd.DataFrame:
    """Decode the partitions into the released table.

    Examples
    --------
    >>> from medanon.tabular.encode import encode
    >>> from medanon.tabular.partitioning import partition_with_core
    >>> from medanon.privacy.criteria import Criterion
    >>> df = pd.DataFrame({"age": [30, 31, 40, 41]})
    >>> enc = encode(df, ["age"], None)
    >>> part = partition_with_core(enc.x, enc.sensitive, enc.categories, Criterion(k=2), "strict")
    >>> build_release(df, enc, part, None, "generalised")["age"].tolist()
    ['30-31', '30-31', '40-41', '40-41']
    """
    kept = df.iloc[enc.kept] if enc.suppressed else df
    kept = kept.reset_index(drop=True)
    labels = part.labels
    if output == "aggregate":
        cols: dict[str, Any] = {}
        for j, col in enumerate(enc.columns):
            cols[col.name] = partition_strings(col, kept[col.name], enc.x[:, j], part)
        per_part: pd.DataFrame = pd.DataFrame(cols)
        if sensitive is None:
            per_part["count"] = part.counts
            return per_part
        counts = (
            pd.DataFrame({"_p": labels, "_s": enc.sensitive})
            .groupby(["_p", "_s"], sort=True)
            .size()
            .reset_index(name="count")
        )
        out: pd.DataFrame = per_part.iloc[counts["_p"].to_numpy()].reset_index(drop=True)
        out[sensitive] = np.asarray(enc.sensitive_values, dtype=object)[counts["_s"].to_numpy()]
        out["count"] = counts["count"].to_numpy()
        return out

    released: pd.DataFrame = kept.copy()
    for j, col in enumerate(enc.columns):
        values = kept[col.name]
        if output == "centroid":
            per = partition_centroids(col, values, enc.x[:, j], part)
            released[col.name] = per.to_numpy()[labels]
        else:
            strings = np.asarray(partition_strings(col, values, enc.x[:, j], part), dtype=object)
            released[col.name] = strings[labels]
    return released
