"""Read and write tables as CSV or Parquet, chosen by the file's extension."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

PARQUET = (".parquet", ".pq")


def read_table(path: Path, dates: Sequence[str] = ()) -> pd.DataFrame:
    """Read a CSV or Parquet table; ``dates`` names columns to parse as dates.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("age,day\\n30,2020-01-02\\n")
    >>> read_table(p, ["day"]).dtypes["day"].kind
    'M'
    """
    if not path.exists():
        raise FileNotFoundError(f"input table not found: {path}")
    if path.is_dir():
        raise ValueError(f"input table is a folder, not a file: {path}")
    if path.suffix.lower() in PARQUET:
        df = pd.read_parquet(path)
    else:
        try:
            df = pd.read_csv(path, low_memory=False)
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise ValueError(f"cannot read {path.name} as CSV: {err}") from None
    for col in dates:
        if col not in df.columns:
            raise ValueError(f"--dates names a column that is not in the table: {col}")
        try:
            df[col] = pd.to_datetime(df[col])
        except (ValueError, TypeError) as err:
            raise ValueError(f"column {col!r} does not hold dates: {err}") from None
    return df


def write_table(df: pd.DataFrame, path: Path) -> None:
    """Write CSV or Parquet atomically (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if path.suffix.lower() in PARQUET:
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
