"""Encode a DataFrame's quasi-identifiers and sensitive attribute as typed arrays.

Numeric, integer, boolean, datetime, timedelta, categorical and string columns
are accepted. Categorical values are cut in order: the user's order
(``categorical_order``), else a pandas Categorical's category order, else sorted.
Datetimes are encoded as seconds since the epoch (float64), timedeltas as
seconds. Missing or infinite quasi-identifiers are an error unless the caller
asks for suppression (those rows are then left out of the release and counted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

ColumnKind = Literal["integer", "float", "datetime", "timedelta", "categorical"]


@dataclass(frozen=True)
class EncodedColumn:
    """How one quasi-identifier was encoded."""

    name: str
    kind: ColumnKind
    #: the ordered category labels of a categorical column (code i -> labels[i])
    labels: tuple[Any, ...] = ()
    #: timezone of a tz-aware datetime column, else None
    tz: Any = None


@dataclass(frozen=True)
class EncodedTable:
    """A table ready for the core: C-contiguous float64 QIs and int32 sensitive codes."""

    x: npt.NDArray[np.float64]
    sensitive: npt.NDArray[np.int32]
    sensitive_values: tuple[Any, ...]
    categories: npt.NDArray[np.int64]
    columns: tuple[EncodedColumn, ...]
    #: positions (in the input) of the rows that were encoded; the others were suppressed
    kept: npt.NDArray[np.int64]
    suppressed: int


def check_columns(df: pd.DataFrame, quasi_identifiers: Sequence[str], sensitive: str | None) -> list[str]:
    """Validate column arguments; return the quasi-identifiers as a list.

    Raises ValueError naming the problem: duplicate or missing columns, no
    quasi-identifiers, the sensitive attribute also given as a quasi-identifier.

    Examples
    --------
    >>> check_columns(pd.DataFrame({"age": [1]}), ["age"], None)
    ['age']
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    if isinstance(quasi_identifiers, str):
        raise TypeError("quasi_identifiers must be a sequence of column names, not a single string")
    qis = list(quasi_identifiers)
    if not qis:
        raise ValueError("quasi_identifiers is empty: name at least one column")
    dup_df = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if dup_df:
        raise ValueError(f"df has duplicate column names: {', '.join(dup_df)}")
    dup = sorted({str(c) for c in qis if qis.count(c) > 1})
    if dup:
        raise ValueError(f"quasi_identifiers names a column more than once: {', '.join(dup)}")
    missing = [str(c) for c in qis if c not in df.columns]
    if sensitive is not None and sensitive not in df.columns:
        missing.append(str(sensitive))
    if missing:
        raise ValueError(f"column(s) not in the table: {', '.join(missing)}")
    if sensitive is not None and sensitive in qis:
        raise ValueError(f"column {sensitive!r} is both a quasi-identifier and the sensitive attribute")
    return qis


def _missing_mask(s: pd.Series) -> npt.NDArray[np.bool_]:
    mask = s.isna().to_numpy(dtype=bool)
    if pd.api.types.is_float_dtype(s.dtype):
        mask = mask | ~np.isfinite(s.to_numpy(dtype=np.float64, na_value=np.nan))
    return mask


def _encode_categorical(s: pd.Series, order: Sequence[Any] | None) -> tuple[npt.NDArray[np.float64], tuple[Any, ...]]:
    name = str(s.name)
    if order is not None:
        labels = list(order)
        if len(set(labels)) != len(labels):
            raise ValueError(f"categorical_order[{name!r}] lists a value more than once")
    elif isinstance(s.dtype, pd.CategoricalDtype):
        labels = list(s.cat.categories)
    else:
        uniq = pd.unique(s.dropna())
        try:
            labels = sorted(uniq.tolist())
        except TypeError as err:
            raise TypeError(
                f"column {name!r} mixes value types that cannot be ordered; "
                "give categorical_order for it or convert it to one type"
            ) from err
    codes = pd.Categorical(s, categories=labels).codes.astype(np.float64)
    unknown = (codes < 0) & s.notna().to_numpy()
    if unknown.any():
        raise ValueError(
            f"column {name!r} holds {int(unknown.sum())} value(s) that categorical_order[{name!r}] does not list"
        )
    return codes, tuple(labels)


def encode(
    df: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: str | None,
    categorical_order: Mapping[str, Sequence[Any]] | None = None,
    suppress_missing: bool = False,
) -> EncodedTable:
    """Encode the quasi-identifiers and the sensitive attribute for the core.

    Examples
    --------
    >>> t = encode(pd.DataFrame({"age": [30, 40], "sex": ["F", "M"]}), ["age", "sex"], None)
    >>> t.x.tolist(), t.categories.tolist()
    ([[30.0, 0.0], [40.0, 1.0]], [0, 2])
    """
    qis = check_columns(df, quasi_identifiers, sensitive)
    order = dict(categorical_order or {})
    unknown_order = [str(c) for c in order if c not in qis]
    if unknown_order:
        raise ValueError(
            f"categorical_order names column(s) that are not quasi-identifiers: {', '.join(unknown_order)}"
        )
    n = len(df)
    if n == 0:
        raise ValueError("the table is empty (0 rows)")

    bad = np.zeros(n, dtype=bool)
    for col in qis:
        m = _missing_mask(df[col])
        if m.any() and not suppress_missing:
            raise ValueError(
                f"quasi-identifier {col!r} has {int(m.sum())} missing or infinite value(s); "
                "clean them, or pass missing='suppress' to leave those rows out of the release"
            )
        bad |= m
    if sensitive is not None:
        m = df[sensitive].isna().to_numpy(dtype=bool)
        if m.any() and not suppress_missing:
            raise ValueError(
                f"sensitive attribute {sensitive!r} has {int(m.sum())} missing value(s); "
                "fill them (e.g. 'unknown'), or pass missing='suppress'"
            )
        bad |= m
    kept = np.flatnonzero(~bad).astype(np.int64)
    if len(kept) == 0:
        raise ValueError("every row has a missing value: nothing is left to release")
    sub = df.iloc[kept] if len(kept) < n else df

    cols: list[EncodedColumn] = []
    x = np.empty((len(kept), len(qis)), dtype=np.float64)
    cats = np.zeros(len(qis), dtype=np.int64)
    for j, col in enumerate(qis):
        s = sub[col]
        dt = s.dtype
        if (
            col in order
            or isinstance(dt, pd.CategoricalDtype)
            or pd.api.types.is_bool_dtype(dt)
            or (pd.api.types.is_object_dtype(dt) or pd.api.types.is_string_dtype(dt))
        ):
            codes, labels = _encode_categorical(
                s, order.get(col, [False, True] if pd.api.types.is_bool_dtype(dt) else None)
            )
            x[:, j] = codes
            cats[j] = max(len(labels), 1)
            cols.append(EncodedColumn(col, "categorical", labels))
        elif pd.api.types.is_datetime64_any_dtype(dt):
            tz = getattr(dt, "tz", None)
            ns = (
                s.to_numpy(dtype="datetime64[ns]")
                if tz is None
                else s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
            )
            x[:, j] = ns.view(np.int64).astype(np.float64) / 1e9
            cols.append(EncodedColumn(col, "datetime", tz=tz))
        elif pd.api.types.is_timedelta64_dtype(dt):
            x[:, j] = s.to_numpy(dtype="timedelta64[ns]").view(np.int64).astype(np.float64) / 1e9
            cols.append(EncodedColumn(col, "timedelta"))
        elif pd.api.types.is_integer_dtype(dt):
            x[:, j] = s.to_numpy(dtype=np.float64)
            cols.append(EncodedColumn(col, "integer"))
        elif pd.api.types.is_float_dtype(dt):
            x[:, j] = s.to_numpy(dtype=np.float64)
            cols.append(EncodedColumn(col, "float"))
        else:
            raise TypeError(
                f"quasi-identifier {col!r} has dtype {dt}, which medanon cannot order; "
                "use a number, date, boolean, string or categorical column"
            )

    if sensitive is not None:
        sv = sub[sensitive]
        codes_s, uniques = pd.factorize(sv, sort=True)
        s_codes = np.ascontiguousarray(codes_s, dtype=np.int32)
        s_values = tuple(uniques.tolist())
    else:
        s_codes = np.zeros(0, dtype=np.int32)
        s_values = ()
    return EncodedTable(
        x=np.ascontiguousarray(x),
        sensitive=s_codes,
        sensitive_values=s_values,
        categories=cats,
        columns=tuple(cols),
        kept=kept,
        suppressed=int(n - len(kept)),
    )
