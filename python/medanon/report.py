"""Release reports: what was asked, what was achieved (measured on the output), what it cost."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TableReport:
    """The report of a tabular release.

    Achieved k and l are measured on the released table by
    :func:`medanon.verify`, not taken from the partitioning.

    Attributes
    ----------
    requested : dict
        k, l, diversity, c, mode, output.
    achieved : dict
        k, classes, distinct_l, entropy_l, recursive_l (for c), measured.
    rows, released_rows, suppressed, partitions : int
        Input rows, rows in the release (sum of counts for ``aggregate``),
        rows left out for missing values, final partitions.
    c_avg, discernibility, ncp : float
        Information loss: average class size over k, sum of squared class
        sizes, normalised certainty penalty (0 = no loss, 1 = all lost).
    timings : dict
        Seconds per stage: encode, partition, release, verify.
    """

    requested: dict[str, Any]
    achieved: dict[str, Any]
    rows: int
    released_rows: int
    suppressed: int
    partitions: int
    c_avg: float
    discernibility: int
    ncp: float
    quasi_identifiers: list[str]
    sensitive: str | None
    timings: dict[str, float] = field(default_factory=dict)
    engine: str = "core"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return asdict(self)

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, default=_json_default)

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write the report as JSON (atomically: temp file, then rename)."""
        write_text_atomic(Path(path), self.to_json() + "\n")


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to ``path`` through a temp file in the same folder and a rename.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "r.json"
    >>> write_text_atomic(p, "{}")
    >>> p.read_text()
    '{}'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
