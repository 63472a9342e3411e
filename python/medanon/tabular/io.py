"""Read and write tables as CSV or Parquet, chosen by the file's extension."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

PARQUET = (".parquet", ".pq")
TEXT = {".csv": ",", ".tsv": "\t", ".txt": ","}


def check_format(path: Path) -> None:
    """Raise ValueError unless the extension names a table format medanon reads and writes."""
    suffix = path.suffix.lower()
    if suffix not in PARQUET and suffix not in TEXT:
        raise ValueError(f"{path.name}: unknown table format {suffix or '(no extension)'}; use .csv, .tsv or .parquet")


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
    check_format(path)
    if path.suffix.lower() in PARQUET:
        try:
            df = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several types for a bad file
            raise ValueError(f"cannot read {path.name} as Parquet: {type(err).__name__}") from None
    else:
        try:
            df = pd.read_csv(path, sep=TEXT[path.suffix.lower()], low_memory=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
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
    """Write CSV, TSV or Parquet atomically (temp file in the same folder, then rename)."""
    check_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if path.suffix.lower() in PARQUET:
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, sep=TEXT[path.suffix.lower()])
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
