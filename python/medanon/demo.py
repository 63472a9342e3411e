"""``medanon demo``: the whole job on built-in synthetic data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medanon.plot import histograms, partitions
from medanon.tabular.anonymise import anonymise
from medanon.tabular.io import write_table

QIS = ["age", "sex", "postcode", "weight", "height", "admission_date", "ethnicity"]


def run_table_demo(outdir: Path, patients: int = 5000, seed: int = 0, k: int = 10, l: int = 3) -> dict[str, Any]:
    """Anonymise a synthetic patients table; write the release, report and figures.

    Writes ``patients.csv`` (the synthetic input), ``release.csv``,
    ``release_centroid.csv``, ``report.json``, ``partitions.png`` and
    ``histograms.png`` under ``outdir/table``; returns the report as a dict.

    Examples
    --------
    >>> import tempfile
    >>> rep = run_table_demo(Path(tempfile.mkdtemp()), patients=300)
    >>> rep["achieved"]["k"] >= 10
    True
    """
    from medanon.synthetic.tables import make_patients

    out = outdir / "table"
    out.mkdir(parents=True, exist_ok=True)
    df = make_patients(patients, seed=seed)
    write_table(df, out / "patients.csv")
    result = anonymise(df, QIS, "diagnosis", k=k, l=l, diversity="distinct")
    write_table(result.table.drop(columns=["record"]), out / "release.csv")
    centroid = anonymise(df, QIS, "diagnosis", k=k, l=l, diversity="distinct", output="centroid")
    write_table(centroid.table.drop(columns=["record"]), out / "release_centroid.csv")
    result.report.write_json(out / "report.json")
    partitions(result, "age", "weight").savefig(out / "partitions.png", dpi=110)
    histograms(result).savefig(out / "histograms.png", dpi=90)
    rep: dict[str, Any] = json.loads(result.report.to_json())
    return rep
