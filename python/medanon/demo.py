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


def run_dicom_demo(
    outdir: Path, patients: int = 60, seed: int = 0, k: int = 5, l: int = 2, workers: int = 1, progress: bool = True
) -> Any:
    """Generate a small DICOM corpus with a clinical CSV and run the whole research release.

    Writes ``outdir/dicom/input`` (the synthetic originals, with planted
    identifiers and burned-in text on ultrasound), ``clinical.csv``, and
    ``outdir/dicom/release`` (the de-identified files, ``metadata.csv``,
    ``report.json``, ``report.html``); the audit runs last. Returns the
    :class:`medanon.dicom.release.DicomRelease`.

    Examples
    --------
    >>> import tempfile
    >>> rel = run_dicom_demo(Path(tempfile.mkdtemp()), patients=12, progress=False)
    >>> rel.ok
    True
    """
    import numpy as np
    import pandas as pd

    from medanon.dicom.policy import Policy
    from medanon.dicom.release import anonymise_dicom
    from medanon.synthetic.dicom_corpus import make_corpus

    base = outdir / "dicom"
    src, dst = base / "input", base / "release"
    for p in (src, dst):
        if p.exists() and any(p.iterdir()):
            raise ValueError(f"{p} already exists and is not empty: choose a new OUTDIR")
    manifest = make_corpus(
        src,
        n_patients=patients,
        studies_per_patient=2,
        series_per_study=1,
        images_per_series=2,
        seed=seed,
        rows=256,
        cols=256,
        modalities=("CT", "MR", "US", "CR"),
        burned_in_text=True,
    )
    rng = np.random.default_rng(seed)
    clinical = pd.DataFrame(
        {
            "MRN": [p.patient_id for p in manifest.patients],
            "diagnosis": rng.choice(["pneumonia", "fracture", "tumour", "stroke", "normal"], len(manifest.patients)),
            "outcome": rng.choice(["recovered", "chronic", "deceased"], len(manifest.patients), p=[0.7, 0.25, 0.05]),
        }
    )
    write_table(clinical, base / "clinical.csv")
    key = rng.bytes(32)  # a demo key; real runs use --key-file
    return anonymise_dicom(
        src,
        dst,
        key=key,
        policy=Policy(burned_in="auto"),
        workers=workers,
        progress=progress,
        k=k,
        l=l,
        sensitive="diagnosis",
        clinical=base / "clinical.csv",
        clinical_id="MRN",
        quasi_identifiers=["age", "sex", "weight", "size"],
    )
