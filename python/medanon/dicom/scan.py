"""Scan a DICOM corpus's headers into a patient table: one row per patient.

k counts people, not images: every file of a patient contributes to one row.
Headers only (pixel data is never read), in parallel when asked.

Rules for a patient whose files disagree (documented, deterministic):

* the patient's **first study** is the one with the earliest StudyDate (files
  without a date come last; ties by StudyInstanceUID);
* ``age`` in years: PatientAge of the first study's files; else computed from
  PatientBirthDate at the first study's date (before any date shift); else
  the same from any other study, corrected by the years between the studies;
* ``weight`` (kg) and ``size`` (m): the first study's value, else the median
  of the other studies' values;
* ``sex``, ``ethnic_group`` and other text tags: the most frequent non-empty
  value over the patient's files, ties to the first study's;
* ``first_study_year``: the year of the first study's date.
The number of patients whose files disagreed on any of these is counted.
The patient table holds identifiers (the original key) only in memory:
nothing here writes or logs them.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydicom import dcmread
from pydicom.datadict import keyword_for_tag, tag_for_keyword

from medanon.dicom.deidentify import _engine, patient_key
from medanon.dicom.policy import Policy
from medanon.dicom.pseudonym import coerce_key

#: the characteristics every scan reads (besides any tags the caller names)
CHARACTERISTICS = ("age", "sex", "weight", "size", "ethnic_group", "first_study_year")
_READ_TAGS = [
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientAge",
    "PatientSex",
    "PatientWeight",
    "PatientSize",
    "EthnicGroup",
    "StudyDate",
    "StudyInstanceUID",
]


@dataclass(frozen=True)
class HeaderRecord:
    """The characteristics one file's header declares (in memory only)."""

    index: int
    patient: str = ""  # the pseudonymous PatientID medanon writes for this patient
    key: str = ""  # the original identity key (never written anywhere)
    study: str = ""
    study_date: str = ""
    birth_date: str = ""
    age: str = ""
    sex: str = ""
    weight: str = ""
    size: str = ""
    ethnic_group: str = ""
    extra: tuple[tuple[str, str], ...] = ()
    error: str = ""


def _text(ds: Any, keyword: str) -> str:
    try:
        v = ds.get(keyword, "")
    except Exception:
        return ""
    if v is None:
        return ""
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return "\\".join(str(x) for x in v)
    return str(v).strip()


def read_header(
    path: str | os.PathLike[str], index: int, key: bytes, policy: Policy, extra_tags: Sequence[str] = ()
) -> HeaderRecord:
    """Read one file's characteristics; errors become ``error`` (no identifiers in it).

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> r = read_header(get_testdata_file("CT_small.dcm"), 0, b"k" * 32, Policy())
    >>> r.sex, r.error
    ('O', '')
    """
    tags = [*_READ_TAGS, *extra_tags]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = dcmread(path, stop_before_pixels=True, specific_tags=tags)
        except Exception as exc:
            return HeaderRecord(index=index, error=f"cannot be read as DICOM ({type(exc).__name__})")
    if not _text(ds, "StudyInstanceUID"):
        return HeaderRecord(index=index, error="missing StudyInstanceUID")
    pkey = patient_key(ds)
    return HeaderRecord(
        index=index,
        patient=_engine(policy, key).pseudo.patient_id(pkey),
        key=pkey,
        study=_text(ds, "StudyInstanceUID"),
        study_date=_text(ds, "StudyDate"),
        birth_date=_text(ds, "PatientBirthDate"),
        age=_text(ds, "PatientAge"),
        sex=_text(ds, "PatientSex").upper(),
        weight=_text(ds, "PatientWeight"),
        size=_text(ds, "PatientSize"),
        ethnic_group=_text(ds, "EthnicGroup"),
        extra=tuple((t, _text(ds, t)) for t in extra_tags),
    )


def _read_batch(items: list[tuple[int, str]], key: bytes, policy: Policy, extra: tuple[str, ...]) -> list[HeaderRecord]:
    return [read_header(p, i, key, policy, extra) for i, p in items]


def check_extra_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Validate DICOM keywords named as extra quasi-identifiers.

    Examples
    --------
    >>> check_extra_tags(["BodyPartExamined"])
    ('BodyPartExamined',)
    """
    out = []
    for t in tags:
        if tag_for_keyword(t) is None or keyword_for_tag(tag_for_keyword(t)) != t:  # type: ignore[arg-type]
            raise ValueError(f"{t!r} is not a DICOM keyword (spell it as the standard does, e.g. BodyPartExamined)")
        out.append(t)
    return tuple(out)


def scan_headers(
    src: str | os.PathLike[str],
    key: bytes | str,
    policy: Policy | None = None,
    *,
    extra_tags: Sequence[str] = (),
    workers: int = 1,
) -> list[HeaderRecord]:
    """Read the characteristics of every file under ``src`` (headers only).

    Files are numbered in the same deterministic walk order as
    :func:`medanon.anonymise_dicom` uses, so ``index`` matches its report.

    Examples
    --------
    >>> # records = scan_headers("in", key=b"..." * 11)
    """
    from medanon.dicom.pipeline import iter_candidates

    policy = policy or Policy()
    k = coerce_key(key)
    extra = check_extra_tags(extra_tags)
    todo: list[tuple[int, str]] = []
    index = 0
    for path, kind in iter_candidates(Path(src)):
        if kind == "hidden":
            continue
        if kind == "":
            assert path is not None
            todo.append((index, str(path)))
        index += 1
    from medanon.dicom.pipeline import _context, _main_importable

    if workers <= 1 or len(todo) < 64 or not _main_importable():
        return _read_batch(todo, k, policy, extra)
    size = max(16, len(todo) // (workers * 8))
    batches = [todo[j : j + size] for j in range(0, len(todo), size)]
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
            n = len(batches)
            parts = pool.map(_read_batch, batches, [k] * n, [policy] * n, [extra] * n)
            return [r for part in parts for r in part]
    except BrokenProcessPool:
        # headers only, pure Python: reading them here is safe
        return _read_batch(todo, k, policy, extra)


def parse_age(value: str) -> float | None:
    """PatientAge (AS, "045Y", "006M", "010W", "003D") in years, or None.

    Examples
    --------
    >>> parse_age("045Y"), parse_age("006M"), parse_age("junk")
    (45.0, 0.5, None)
    """
    v = value.strip().upper()
    if len(v) != 4 or not v[:3].isdigit() or v[3] not in "DWMY":
        return None
    n = float(v[:3])
    return n / {"D": 365.25, "W": 52.1775, "M": 12.0, "Y": 1.0}[v[3]]


def _parse_date(value: str) -> date | None:
    v = value.strip()
    if len(v) >= 8 and v[:8].isdigit():
        try:
            return date(int(v[:4]), int(v[4:6]), int(v[6:8]))
        except ValueError:
            return None
    return None


def _parse_number(value: str) -> float | None:
    try:
        f = float(value)
    except ValueError:
        return None
    return f if np.isfinite(f) and f > 0 else None


def _years_between(a: date, b: date) -> float:
    # completed years, as people state their age
    return float(b.year - a.year - ((b.month, b.day) < (a.month, a.day)))


@dataclass
class PatientTable:
    """One row per patient, and what the scan found.

    ``table`` columns: ``patient`` (pseudonymous PatientID), ``age``, ``sex``,
    ``weight``, ``size``, ``ethnic_group``, ``first_study_year``, any extra
    tags, ``studies``, ``files``. ``keys`` maps patient -> original identity
    key, for joining a clinical table; it is never written.
    """

    table: pd.DataFrame
    keys: dict[str, str]
    files: int
    unreadable: int
    disagreeing_patients: int
    errors: list[tuple[int, str]] = field(default_factory=list)


def patient_table(records: Sequence[HeaderRecord], extra_tags: Sequence[str] = ()) -> PatientTable:
    """Collapse per-file records into one row per patient (rules in the module docstring).

    Examples
    --------
    >>> r1 = HeaderRecord(0, "P1", "id:1", "1.2.3", "20200101", age="040Y", sex="F", weight="60")
    >>> r2 = HeaderRecord(1, "P1", "id:1", "1.2.4", "20210101", age="041Y", sex="F", weight="62")
    >>> t = patient_table([r1, r2]).table
    >>> t[["patient", "age", "weight", "studies", "files"]].values.tolist()
    [['P1', 40.0, 60.0, 2, 2]]
    """
    good = [r for r in records if not r.error]
    errors = [(r.index, r.error) for r in records if r.error]
    by_patient: dict[str, list[HeaderRecord]] = {}
    for r in good:
        by_patient.setdefault(r.patient, []).append(r)
    rows = []
    keys: dict[str, str] = {}
    disagree = 0
    for pat in sorted(by_patient):
        recs = by_patient[pat]
        keys[pat] = recs[0].key

        def study_order(r: HeaderRecord) -> tuple[int, str, str]:
            d = _parse_date(r.study_date)
            return (0 if d else 1, d.isoformat() if d else "", r.study)

        recs = sorted(recs, key=study_order)
        first = recs[0].study
        first_recs = [r for r in recs if r.study == first]
        first_date = _parse_date(recs[0].study_date)
        differ = False

        # age
        age = None
        ages_first = {a for a in (parse_age(r.age) for r in first_recs) if a is not None}
        if ages_first:
            age = min(ages_first)
            differ |= len(ages_first) > 1
        else:
            for r in recs:
                b, s = _parse_date(r.birth_date), _parse_date(r.study_date)
                a = parse_age(r.age)
                if b and first_date:
                    age = _years_between(b, first_date)
                    break
                if a is not None and s and first_date:
                    age = max(0.0, a - _years_between(first_date, s))
                    break
            if age is None:
                anya = [parse_age(r.age) for r in recs]
                vals = [a for a in anya if a is not None]
                age = min(vals) if vals else None

        def number(
            attr: str, recs: list[HeaderRecord] = recs, first_recs: list[HeaderRecord] = first_recs
        ) -> float | None:
            nonlocal differ
            first_vals = {v for v in (_parse_number(getattr(r, attr)) for r in first_recs) if v is not None}
            if first_vals:
                differ |= len(first_vals) > 1
                return float(np.median(sorted(first_vals)))
            others = [v for v in (_parse_number(getattr(r, attr)) for r in recs) if v is not None]
            return float(np.median(others)) if others else None

        def mode(values: list[str], first_value: str) -> str:
            nonlocal differ
            c = Counter(v for v in values if v)
            if not c:
                return ""
            differ |= len(c) > 1
            top = max(c.values())
            best = [v for v, n in c.items() if n == top]
            return first_value if first_value in best else sorted(best)[0]

        row: dict[str, Any] = {
            "patient": pat,
            "age": age,
            "sex": mode([r.sex for r in recs], first_recs[0].sex),
            "weight": number("weight"),
            "size": number("size"),
            "ethnic_group": mode([r.ethnic_group for r in recs], first_recs[0].ethnic_group),
            "first_study_year": float(first_date.year) if first_date else None,
        }
        for t in extra_tags:
            texts = [dict(r.extra).get(t, "") for r in recs]
            row[t] = mode(texts, dict(first_recs[0].extra).get(t, ""))
        row["studies"] = len({r.study for r in recs})
        row["files"] = len(recs)
        disagree += differ
        rows.append(row)
    cols = ["patient", *CHARACTERISTICS, *extra_tags, "studies", "files"]
    table = pd.DataFrame(rows, columns=cols)
    for c in ("age", "weight", "size", "first_study_year"):
        table[c] = pd.to_numeric(table[c], errors="coerce").astype(np.float64)
    return PatientTable(
        table=table,
        keys=keys,
        files=len(good),
        unreadable=len(errors),
        disagreeing_patients=disagree,
        errors=errors,
    )
