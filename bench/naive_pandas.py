"""The naive pandas Mondrian, as the popular tutorials write it: the "pure-Python baseline".

Modelled on the widely copied k-anonymity tutorial code (DataFrame.loc per
partition, a span computation per partition, ``df[column][partition]`` for
each split, ``groupby``/``unique`` for the diversity test). Kept apart from the
package: it is what users compare medanon against, not something medanon uses.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd


def get_spans(
    df: pd.DataFrame, partition: pd.Index, categorical: set[str], scale: dict[str, float] | None = None
) -> dict[str, float]:
    spans: dict[str, float] = {}
    for column in df.columns:
        if column in categorical:
            span = float(len(df[column][partition].unique()))
        else:
            span = float(df[column][partition].max() - df[column][partition].min())
        if scale is not None:
            span = span / scale[column] if scale[column] else 0.0
        spans[column] = span
    return spans


def split(df: pd.DataFrame, partition: pd.Index, column: str, categorical: set[str]) -> tuple[pd.Index, pd.Index]:
    dfp = df[column][partition]
    if column in categorical:
        values = dfp.unique()
        lv = set(values[: len(values) // 2])
        rv = set(values[len(values) // 2 :])
        return dfp.index[dfp.isin(lv)], dfp.index[dfp.isin(rv)]
    median = dfp.median()
    return dfp.index[dfp < median], dfp.index[dfp >= median]


def is_k_anonymous(df: pd.DataFrame, partition: pd.Index, sensitive: str, k: int) -> bool:
    return len(partition) >= k


def is_l_diverse(df: pd.DataFrame, partition: pd.Index, sensitive: str, l: int) -> bool:
    return int(df.loc[partition].groupby(sensitive, observed=True).size().shape[0]) >= l


def partition_dataset(
    df: pd.DataFrame,
    feature_columns: list[str],
    sensitive: str,
    categorical: set[str],
    is_valid: Callable[[pd.DataFrame, pd.Index, str], bool],
) -> list[pd.Index]:
    scale = get_spans(df[feature_columns], df.index, categorical)
    finished: list[pd.Index] = []
    partitions = [df.index]
    while partitions:
        partition = partitions.pop(0)
        spans = get_spans(df[feature_columns], partition, categorical, scale)
        for column, _span in sorted(spans.items(), key=lambda x: -x[1]):
            lp, rp = split(df, partition, column, categorical)
            if len(lp) == 0 or len(rp) == 0:
                continue
            if not is_valid(df, lp, sensitive) or not is_valid(df, rp, sensitive):
                continue
            partitions.extend((lp, rp))
            break
        else:
            finished.append(partition)
    return finished


def anonymise(
    df: pd.DataFrame, qis: list[str], sensitive: str, k: int, l: int, categorical: set[str]
) -> list[pd.Index]:
    def valid(d: pd.DataFrame, p: pd.Index, s: str) -> bool:
        return is_k_anonymous(d, p, s, k) and is_l_diverse(d, p, s, l)

    return partition_dataset(df, qis, sensitive, categorical, valid)
