"""The research release of a DICOM corpus: headers de-identified, patients k-anonymous and l-diverse.

Instead of deleting the patient characteristics (age, sex, size, weight...)
or keeping them raw, the whole released corpus is made k-anonymous and
l-diverse over them, counting people:

scan (headers only) -> patient table (one row per patient) -> optional
clinical table joined on the original PatientID -> Mondrian over patients ->
per-file rewrite with each patient's generalised characteristics -> atomic
writes -> re-scan of the written headers and ``metadata.csv`` to *measure*
the achieved k and l -> audit -> ``report.json`` and ``report.html``.

What is written for a patient (all values VR-valid, the same in every file
of every patient of a group):

* numbers (PatientAge, PatientWeight, PatientSize, numeric extra tags): the
  group's centroid (mean); PatientAge as ``nnnY`` (``nnnM`` under one
  year). Ages are top-coded at 90 before partitioning, as HIPAA's Safe
  Harbor asks: ``090Y`` means 90 or older. If any patient of a group lacks
  the value, it is emptied for the whole group (so the group stays one
  equivalence class);
* text (PatientSex, EthnicGroup, text extra tags): kept if the group is
  uniform, emptied otherwise;
* first-study year and clinical columns: only in ``metadata.csv``.

``metadata.csv`` / ``metadata.parquet`` hold, per pseudonymous patient, the
generalised range or value set of each quasi-identifier, the exact centroid
of each numeric one (means are preserved exactly there), the sensitive
attribute and the clinical columns.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydicom import dcmread
from pydicom.datadict import dictionary_VR, tag_for_keyword

from medanon.dicom.audit import AuditReport, audit
from medanon.dicom.pipeline import DicomRunReport, deidentify_folder, resolve_key
from medanon.dicom.policy import Policy
from medanon.dicom.scan import CHARACTERISTICS, check_extra_tags, patient_table, scan_headers
from medanon.privacy.criteria import DiversityName
from medanon.privacy.verify import verify
from medanon.report import write_text_atomic
from medanon.tabular.anonymise import AnonymisationResult, anonymise
from medanon.tabular.io import write_table

__all__ = ["DicomRelease", "anonymise_dicom"]

#: patient characteristics -> the DICOM keyword they are written to
HEADER_KEYWORD = {
    "age": "PatientAge",
    "sex": "PatientSex",
    "weight": "PatientWeight",
    "size": "PatientSize",
    "ethnic_group": "EthnicGroup",
}
NUMERIC = {"age", "weight", "size", "first_study_year"}
DEFAULT_QIS = ("age", "sex", "weight", "size")
HIPAA_TOP_AGE = 90.0
_NUMERIC_VRS = {"DS", "IS", "FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"}


@dataclass
class DicomRelease:
    """What :func:`anonymise_dicom` did, with the proof.

    Attributes
    ----------
    run : DicomRunReport
        Per-file outcomes of the header (and pixel) de-identification.
    metadata : DataFrame or None
        The released per-patient table (with k-anonymity), as written.
    report : dict
        Everything in ``report.json``: options, counts, achieved k and l
        measured on the written headers and on ``metadata.csv``, information
        loss, statistical fidelity, masking counts, audit, timings.
    audit : AuditReport or None
        The audit of the output against the originals.
    tabular : AnonymisationResult or None
        The partitioning of the patient table (for figures).
    """

    run: DicomRunReport
    report: dict[str, Any]
    metadata: pd.DataFrame | None = None
    audit: AuditReport | None = None
    tabular: AnonymisationResult | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Every file written, the audit clean, and the requested k and l achieved."""
        privacy_ok = self.report.get("privacy_ok", True)
        return bool(self.run.ok and (self.audit is None or self.audit.ok) and privacy_ok)


def _format_ds(v: float) -> str:
    for digits in range(12, 2, -1):
        s = f"{v:.{digits}g}"
        if len(s) <= 16:
            return s
    return f"{v:.2g}"


def _format_age(years: float) -> str:
    if years >= 1.0 - 1e-9:
        return f"{min(round(years), 999):03d}Y"
    return f"{min(round(years * 12), 11):03d}M"


def _classify(
    qis: Sequence[str], extra: Sequence[str], clinical_cols: Sequence[str], table: pd.DataFrame
) -> dict[str, str]:
    """QI -> "numeric" or "text"."""
    kinds = {}
    for q in qis:
        if q in NUMERIC:
            kinds[q] = "numeric"
        elif q in CHARACTERISTICS:
            kinds[q] = "text"
        elif q in extra:
            kinds[q] = "numeric" if dictionary_VR(tag_for_keyword(q)) in _NUMERIC_VRS else "text"  # type: ignore[arg-type]
        elif q in clinical_cols:
            kinds[q] = "numeric" if pd.api.types.is_numeric_dtype(table[q]) else "text"
        else:
            raise ValueError(
                f"quasi-identifier {q!r} is neither a patient characteristic "
                f"({', '.join(CHARACTERISTICS)}), a DICOM keyword, nor a clinical column"
            )
    return kinds


def _load_clinical(clinical: str | os.PathLike[str] | pd.DataFrame, clinical_id: str) -> pd.DataFrame:
    if isinstance(clinical, pd.DataFrame):
        df = clinical.copy()
    else:
        p = Path(clinical)
        if not p.exists():
            raise FileNotFoundError(f"clinical table not found: {p}")
        df = pd.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else pd.read_csv(p, dtype={clinical_id: str})
    if clinical_id not in df.columns:
        raise ValueError(f"clinical table has no column {clinical_id!r} (give --clinical-id)")
    ids = df[clinical_id].astype(str).str.strip()
    if ids.duplicated().any():
        raise ValueError(f"clinical table has {int(ids.duplicated().sum())} duplicate {clinical_id} value(s)")
    df[clinical_id] = ids
    out: pd.DataFrame = df
    return out


def _characteristics(
    pt: pd.DataFrame,
    labels: np.ndarray,
    qis: Sequence[str],
    kinds: Mapping[str, str],
    header_qis: Mapping[str, str],
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Per-patient header values and per-patient exact centroids."""
    n_part = int(labels.max()) + 1 if len(labels) else 0
    written: dict[str, np.ndarray] = {}
    centroids: dict[str, np.ndarray] = {}
    for q in qis:
        col = pt[q]
        if kinds[q] == "numeric":
            vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
            if q == "age":
                vals = np.minimum(vals, HIPAA_TOP_AGE)
            missing = np.bincount(labels, weights=np.isnan(vals).astype(float), minlength=n_part) > 0
            sums = np.bincount(labels, weights=np.nan_to_num(vals), minlength=n_part)
            counts = np.bincount(labels, minlength=n_part)
            means = np.where(missing, np.nan, sums / np.maximum(counts, 1))
            centroids[q] = means[labels]
            if q in header_qis:
                if q == "age":
                    fmt = [None if math.isnan(m) else _format_age(m) for m in means]
                else:
                    fmt = [None if math.isnan(m) else _format_ds(m) for m in means]
                written[q] = np.asarray(fmt, dtype=object)[labels]
        elif q in header_qis:
            text = col.fillna("").astype(str).to_numpy()
            distinct: list[set[str]] = [set() for _ in range(n_part)]
            for p, v in zip(labels.tolist(), text.tolist(), strict=True):
                distinct[p].add(v)
            # kept when the group is uniform, emptied otherwise
            per = [next(iter(d)) if len(d) == 1 and next(iter(d)) else None for d in distinct]
            written[q] = np.asarray(per, dtype=object)[labels]
    chars: dict[str, dict[str, Any]] = {}
    for i, patient in enumerate(pt["patient"].tolist()):
        chars[patient] = {header_qis[q]: written[q][i] for q in written}
    return chars, centroids


def _generalised_columns(
    res: AnonymisationResult, pt: pd.DataFrame, qis: Sequence[str], kinds: Mapping[str, str]
) -> pd.DataFrame:
    gen = res.table  # the generalised release anonymise() already built
    out = pd.DataFrame(index=range(len(pt)))
    labels = res.partitioning.labels
    for q in qis:
        col = gen[q].astype(str)
        if kinds[q] == "numeric":
            vals = pd.to_numeric(pt[q], errors="coerce")
            miss = vals.isna().groupby(labels).transform("any").to_numpy()
            col = col.where(~miss, "")
            if q == "age":
                col = col.str.replace(r"(^|-)90$", r"\g<1>90+", regex=True)
        out[q] = col.to_numpy()
    result: pd.DataFrame = out
    return result


def _written_table(dst: Path, header_qis: Mapping[str, str]) -> tuple[pd.DataFrame, int]:
    """Re-read the written headers: one row per written patient, and the count of disagreeing ones."""
    keywords = ["PatientID", *header_qis.values()]
    rows = []
    for root, _dirs, files in os.walk(dst):
        for name in files:
            if not name.endswith(".dcm"):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = dcmread(Path(root, name), stop_before_pixels=True, specific_tags=keywords)
            rows.append({kw: str(ds.get(kw, "") or "") for kw in keywords})
    df = pd.DataFrame(rows, columns=keywords)
    per = df.drop_duplicates()
    disagreeing = int(per["PatientID"].duplicated().sum())
    return per.drop_duplicates("PatientID").reset_index(drop=True), disagreeing


def _fidelity(pt: pd.DataFrame, centroids: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    out = {}
    for q, c in centroids.items():
        before = pd.to_numeric(pt[q], errors="coerce")
        after = pd.Series(c)
        out[q] = {
            "mean_before": float(before.mean()),
            "mean_after": float(after.mean()),
            "std_before": float(before.std()),
            "std_after": float(after.std()),
            "missing_or_suppressed_after": int(after.isna().sum()),
        }
    return out


def anonymise_dicom(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    key: bytes | str | None = None,
    policy: Policy | None = None,
    workers: int = 1,
    progress: bool = True,
    k: int | None = None,
    l: float | None = None,
    diversity: DiversityName | None = None,
    c: float = 1.0,
    quasi_identifiers: Sequence[str] | None = None,
    sensitive: str | None = None,
    clinical: str | os.PathLike[str] | pd.DataFrame | None = None,
    clinical_id: str = "PatientID",
    run_audit: bool = True,
    write_report: bool = True,
) -> DicomRelease:
    """De-identify a DICOM corpus; with ``k``, make its patients k-anonymous and l-diverse.

    Parameters
    ----------
    src, dst : path-like
        Input folder and output folder (not inside ``src``).
    key : bytes or str, optional
        Secret key for pseudonyms, UIDs and date shifts; None: a random key
        for this run (with a warning). Never written anywhere.
    policy : Policy, optional
        The PS3.15 profile options, pixel masking (default :class:`Policy()`).
    workers : int
        Processes for the scan and the rewrite.
    k : int, optional
        Corpus-level k-anonymity over patients. Without it, patient
        characteristics follow the profile (removed unless retained).
    l, diversity, c
        l-diversity of ``sensitive`` per group of patients (default distinct
        l = 2 when ``sensitive`` is given).
    quasi_identifiers : sequence of str
        Patient characteristics (``age``, ``sex``, ``weight``, ``size``,
        ``ethnic_group``, ``first_study_year``), DICOM keywords, or clinical
        columns. Default: age, sex, weight, size.
    sensitive : str, optional
        A clinical column or a DICOM keyword.
    clinical : path or DataFrame, optional
        A table joined on the original PatientID (column ``clinical_id``);
        every patient of the corpus must have a row.
    run_audit : bool
        Audit the output against the originals.
    write_report : bool
        Write ``report.json`` and ``report.html`` into ``dst``.

    Returns
    -------
    DicomRelease

    Raises
    ------
    ValueError
        Before anything is written: fewer patients than k, a sensitive
        attribute that cannot reach l, unknown quasi-identifiers, clinical
        rows missing for some patients.

    Examples
    --------
    >>> # rel = medanon.anonymise_dicom("in", "out", key=key, k=5, l=2,
    >>> #        sensitive="diagnosis", clinical="clinical.csv", clinical_id="MRN")
    >>> # rel.report["achieved"]["headers"]["k"] >= 5
    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    policy = policy or Policy()
    raw_key, key_source = resolve_key(key, stacklevel=2)
    src_p, dst_p = Path(src), Path(dst)
    if k is None:
        if sensitive is not None or l is not None or quasi_identifiers is not None:
            raise ValueError("sensitive, l and quasi_identifiers need k (corpus-level k-anonymity)")
        run = deidentify_folder(src_p, dst_p, key=raw_key, policy=policy, workers=workers, progress=progress)
        run.key_source = key_source
        timings["deidentify"] = time.perf_counter() - t_start
        return _finish(src_p, dst_p, run, policy, None, None, {}, timings, t_start, run_audit, write_report)

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    if policy.retain_patient_characteristics:
        raise ValueError(
            "retain_patient_characteristics keeps raw ages, sexes, weights and sizes beside the "
            "k-anonymous ones: turn it off for a research release (-k)"
        )
    if dst_p.exists() and (not dst_p.is_dir() or any(dst_p.iterdir())):
        # k and l are measured on everything under dst: files of another run would falsify them
        raise ValueError(f"dst {dst_p} must be a new or empty folder for a research release (-k)")
    qis = list(quasi_identifiers) if quasi_identifiers is not None else list(DEFAULT_QIS)
    if not qis:
        raise ValueError("quasi_identifiers is empty")
    clin = _load_clinical(clinical, clinical_id) if clinical is not None else None
    clinical_cols = [col for col in (clin.columns if clin is not None else []) if col != clinical_id]
    extra = [
        q for q in [*qis, *([sensitive] if sensitive else [])] if q not in CHARACTERISTICS and q not in clinical_cols
    ]
    extra = list(check_extra_tags(extra))

    t0 = time.perf_counter()
    records = scan_headers(src_p, raw_key, policy, extra_tags=extra, workers=workers)
    scanned = patient_table(records, extra)
    timings["scan"] = time.perf_counter() - t0
    pt = scanned.table.copy()
    if len(pt) == 0:
        raise ValueError("no readable DICOM file with a patient was found under src")

    if clin is not None:
        ids = pd.Series(
            {p: key_.removeprefix("id:") if key_.startswith("id:") else None for p, key_ in scanned.keys.items()}
        )
        pt["_id"] = pt["patient"].map(ids)
        merged = pt.merge(clin, how="left", left_on="_id", right_on=clinical_id, indicator=True)
        unmatched = int((merged["_merge"] != "both").sum())
        if unmatched:
            raise ValueError(
                f"{unmatched} patient(s) of the corpus have no row in the clinical table "
                f"(joined on {clinical_id}); add them or remove their files"
            )
        pt = merged.drop(columns=["_id", "_merge", clinical_id])
    kinds = _classify(qis, extra, clinical_cols, pt)
    if sensitive is not None and sensitive not in pt.columns:
        raise ValueError(f"sensitive attribute {sensitive!r} is neither a clinical column nor a scanned DICOM keyword")
    if len(pt) < k:
        raise ValueError(f"the corpus has {len(pt)} patient(s), fewer than k = {k}: no k-anonymous release exists")

    # encode for the partitioning: missing numbers imputed with the median, plus a missing flag
    part_df = pd.DataFrame({"patient": pt["patient"]})
    part_qis: list[str] = []
    for q in qis:
        if kinds[q] == "numeric":
            v = pd.to_numeric(pt[q], errors="coerce").astype(np.float64)
            if q == "age":
                v = v.clip(upper=HIPAA_TOP_AGE)
            if v.isna().all():
                raise ValueError(f"quasi-identifier {q!r} is missing for every patient")
            if v.isna().any():
                part_df[f"{q}_missing"] = v.isna()
                part_qis.append(f"{q}_missing")
            part_df[q] = v.fillna(v.median())
        else:
            part_df[q] = pt[q].fillna("").astype(str)
        part_qis.append(q)
    if sensitive is not None:
        sv = pt[sensitive]
        if sv.isna().any() or (sv.astype(str).str.strip() == "").any():
            raise ValueError(f"sensitive attribute {sensitive!r} is missing for some patients")
        part_df[sensitive] = sv.astype(str)
    t0 = time.perf_counter()
    res = anonymise(part_df, part_qis, sensitive, k=k, l=l, diversity=diversity, c=c, output="generalised")
    timings["partition"] = time.perf_counter() - t0

    header_qis = {q: HEADER_KEYWORD.get(q, q) for q in qis if q in HEADER_KEYWORD or q in extra}
    labels = res.partitioning.labels
    chars, centroids = _characteristics(pt, labels, qis, kinds, header_qis)
    gen = _generalised_columns(res, pt, qis, kinds)

    # per pseudonymous patient: ranges, centroids, sensitive and clinical columns only
    meta = pd.DataFrame({"patient": pt["patient"]})
    for q in qis:
        meta[q] = gen[q].to_numpy()
        if q in centroids:
            meta[f"{q}_centroid"] = centroids[q]
    if sensitive is not None:
        meta[sensitive] = pt[sensitive].to_numpy()
    for col in clinical_cols:
        if col not in qis and col != sensitive:
            meta[col] = pt[col].to_numpy()

    t0 = time.perf_counter()
    run = deidentify_folder(
        src_p, dst_p, key=raw_key, policy=policy, workers=workers, progress=progress, characteristics_by_patient=chars
    )
    run.key_source = key_source
    timings["deidentify"] = time.perf_counter() - t0
    written_patients = {r.patient for r in run.results if r.status == "ok"}
    meta = meta[meta["patient"].isin(written_patients)].reset_index(drop=True)
    if meta.empty:
        extra_report: dict[str, Any] = {
            "quasi_identifiers": qis,
            "sensitive": sensitive,
            "privacy_ok": False,
            "patients": len(pt),
            "patients_written": 0,
        }
        return _finish(src_p, dst_p, run, policy, None, None, extra_report, timings, t_start, run_audit, write_report)
    write_table(meta, dst_p / "metadata.csv")
    write_table(meta, dst_p / "metadata.parquet")

    # measure the release from what was written
    t0 = time.perf_counter()
    meta_back = pd.read_csv(dst_p / "metadata.csv", dtype=str, keep_default_na=False)
    m = verify(meta_back, qis, sensitive, c=c)
    written, disagreeing = _written_table(dst_p, header_qis)
    achieved: dict[str, Any] = {"metadata": m.to_dict()}
    if header_qis and len(written):
        h = written.rename(columns={"PatientID": "patient"})
        if sensitive is not None:
            h = h.merge(meta_back[["patient", sensitive]], on="patient", how="left")
        hv = verify(h, list(header_qis.values()), sensitive, c=c)
        achieved["headers"] = {**hv.to_dict(), "patients_with_disagreeing_files": disagreeing}
    timings["measure"] = time.perf_counter() - t0
    requested = {"k": k, "l": res.report.requested["l"], "diversity": res.report.requested["diversity"], "c": c}
    lkey = {"distinct": "distinct_l", "entropy": "entropy_l", "recursive": "recursive_l"}.get(requested["diversity"])

    def meets(v: Mapping[str, Any]) -> bool:
        ok = v["k"] >= k
        if lkey and sensitive is not None:
            ok = ok and v[lkey] is not None and v[lkey] >= requested["l"] - 1e-9
        return bool(ok)

    privacy_ok = meets(achieved["metadata"]) and (
        "headers" not in achieved
        or (meets(achieved["headers"]) and achieved["headers"]["patients_with_disagreeing_files"] == 0)
    )
    extra_report = {
        "quasi_identifiers": qis,
        "sensitive": sensitive,
        "requested": requested,
        "achieved": achieved,
        "privacy_ok": privacy_ok,
        "patients": len(pt),
        "patients_written": len(meta),
        "patients_with_disagreeing_files_in_input": scanned.disagreeing_patients,
        "partitions": res.report.partitions,
        "c_avg": res.report.c_avg,
        "discernibility": res.report.discernibility,
        "ncp": res.report.ncp,
        "fidelity": _fidelity(pt, centroids),
        "header_keywords": header_qis,
        "hipaa_age_top_code": HIPAA_TOP_AGE,
    }
    return _finish(src_p, dst_p, run, policy, res, meta, extra_report, timings, t_start, run_audit, write_report)


def _finish(
    src: Path,
    dst: Path,
    run: DicomRunReport,
    policy: Policy,
    res: AnonymisationResult | None,
    meta: pd.DataFrame | None,
    extra: dict[str, Any],
    timings: dict[str, float],
    t_start: float,
    run_audit: bool,
    write_report: bool,
) -> DicomRelease:
    aud = None
    if run_audit:
        t0 = time.perf_counter()
        aud = audit(src, dst, report=run, policy=policy, workers=run.workers)
        timings["audit"] = time.perf_counter() - t0
    results = run.results
    pixel = {
        "files_scanned": sum(r.pixel == "scanned" for r in results),
        "boxes_masked": int(sum(r.boxes_masked for r in results)),
        "frames_scanned": int(sum(r.frames for r in results if r.pixel == "scanned")),
        "files_with_boxes": sum(r.boxes_masked > 0 for r in results),
    }
    report: dict[str, Any] = {
        "tool": "medanon",
        "options": run.policy,
        "method_codes": run.method_codes,
        "key_source": run.key_source,
        "files": {
            "candidates": len(results),
            "written": run.written,
            "failed": run.failed,
            "skipped": run.skipped,
        },
        "errors": [{"file": f"#{r.index}", "reason": r.reason} for r in results if r.status == "failed"],
        "notes": list(run.notes),
        "pixels": pixel,
        **extra,
        "audit": aud.to_dict() if aud is not None else None,
    }
    timings["total"] = time.perf_counter() - t_start
    report["seconds"] = {**timings, "per_file_stages": run.seconds}
    release = DicomRelease(run=run, report=report, metadata=meta, audit=aud, tabular=res)
    report["ok"] = release.ok
    if write_report:
        import json

        from medanon.report import dicom_report_html

        write_text_atomic(dst / "report.json", json.dumps(report, indent=2, default=str) + "\n")
        write_text_atomic(dst / "report.html", dicom_report_html(release))
    return release
