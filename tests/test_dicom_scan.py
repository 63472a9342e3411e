"""The header scan and the patient table: one row per patient, documented rules."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pydicom")

from medanon.dicom.scan import HeaderRecord, parse_age, patient_table, scan_headers
from medanon.synthetic.dicom_corpus import make_corpus


def rec(i: int, patient: str, study: str, date: str, **kw: str) -> HeaderRecord:
    return HeaderRecord(index=i, patient=patient, key="id:" + patient, study=study, study_date=date, **kw)


def test_one_row_per_patient_first_study_wins() -> None:
    recs = [
        rec(0, "P1", "1.2", "20210105", age="041Y", sex="F", weight="62", size="1.60"),
        rec(1, "P1", "1.1", "20200105", age="040Y", sex="F", weight="60", size="1.60"),
        rec(2, "P1", "1.1", "20200105", age="040Y", sex="F", weight="60"),
        rec(3, "P2", "2.1", "", age="", sex="M", weight="", birth_date="19800101"),
        rec(4, "P2", "2.2", "20100301", sex="M", weight="80", birth_date="19800101"),
        HeaderRecord(index=5, error="cannot be read as DICOM (InvalidDicomError)"),
    ]
    pt = patient_table(recs)
    t = pt.table.set_index("patient")
    assert list(t.index) == ["P1", "P2"]
    assert t.loc["P1", "age"] == 40.0  # the first study's PatientAge
    assert t.loc["P1", "weight"] == 60.0  # the first study's weight, not the later one
    assert t.loc["P1", "studies"] == 2 and t.loc["P1", "files"] == 3
    assert t.loc["P1", "first_study_year"] == 2020.0
    # P2: the dated study is first; age from the birth date at that study (completed years)
    assert t.loc["P2", "age"] == 30.0
    assert t.loc["P2", "weight"] == 80.0
    assert pt.unreadable == 1 and pt.errors == [(5, "cannot be read as DICOM (InvalidDicomError)")]
    assert pt.disagreeing_patients == 0
    assert pt.keys == {"P1": "id:P1", "P2": "id:P2"}


def test_disagreeing_files_resolved_and_counted() -> None:
    recs = [
        rec(0, "P1", "1.1", "20200105", sex="F", ethnic_group="A"),
        rec(1, "P1", "1.1", "20200105", sex="M", ethnic_group="A"),
        rec(2, "P1", "1.2", "20210105", sex="M", ethnic_group="B"),
    ]
    pt = patient_table(recs)
    row = pt.table.iloc[0]
    assert row["sex"] == "M"  # the most frequent value
    assert row["ethnic_group"] == "A"  # tie broken by the first study
    assert pt.disagreeing_patients == 1


@pytest.mark.parametrize(
    ("value", "years"), [("045Y", 45.0), ("006M", 0.5), ("003D", 3 / 365.25), ("45Y", None), ("", None), ("0A5Y", None)]
)
def test_parse_age(value: str, years: float | None) -> None:
    assert parse_age(value) == (pytest.approx(years) if years is not None else None)


def test_scan_corpus_with_bad_files(tmp_path: Path) -> None:
    m = make_corpus(
        tmp_path / "in",
        n_patients=4,
        studies_per_patient=2,
        series_per_study=1,
        images_per_series=2,
        seed=3,
        rows=16,
        cols=16,
    )
    (tmp_path / "in" / "junk.bin").write_bytes(b"not dicom at all" * 10)
    key = b"scan-test-key-0123456789abcdef012"
    one = scan_headers(tmp_path / "in", key)
    two = scan_headers(tmp_path / "in", key, workers=2)
    assert [r.index for r in one] == [r.index for r in two]
    assert len([r for r in one if r.error]) == 1
    pt = patient_table(one)
    assert len(pt.table) == 4 and pt.files == len(m.files)
    assert sorted(pt.table["age"].notna()) == [True] * 4
    # the patient column holds pseudonyms, never the original IDs
    originals = {p.patient_id for p in m.patients}
    assert not originals & set(pt.table["patient"])
