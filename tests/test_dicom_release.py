"""The research release: corpus-level k-anonymity and l-diversity over patients."""

from __future__ import annotations

import json
import warnings
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pydicom")

from pydicom import dcmread

import medanon
from medanon.dicom.policy import Policy
from medanon.dicom.release import DicomRelease, anonymise_dicom
from medanon.synthetic.dicom_corpus import CorpusManifest, make_corpus

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pycanon import anonymity as pycanon

KEY = b"research-release-test-key-0123456"
QIS = ["age", "sex", "weight", "size"]


@pytest.fixture(scope="module")
def corpus40(tmp_path_factory: pytest.TempPathFactory) -> tuple[CorpusManifest, Path]:
    root = tmp_path_factory.mktemp("c40")
    m = make_corpus(
        root / "in",
        n_patients=40,
        studies_per_patient=2,
        series_per_study=1,
        images_per_series=2,
        seed=11,
        rows=32,
        cols=32,
    )
    rng = np.random.default_rng(3)
    clinical = pd.DataFrame(
        {
            "MRN": [p.patient_id for p in m.patients],
            "diagnosis": rng.choice(["a", "b", "c", "d", "e"], len(m.patients)),
            "outcome": rng.choice(["x", "y"], len(m.patients)),
        }
    )
    clinical.to_csv(root / "clinical.csv", index=False)
    return m, root / "clinical.csv"


@pytest.fixture(scope="module")
def release(
    corpus40: tuple[CorpusManifest, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[DicomRelease, Path]:
    m, clinical = corpus40
    out = tmp_path_factory.mktemp("rel") / "out"
    rel = anonymise_dicom(
        m.root,
        out,
        key=KEY,
        policy=Policy(burned_in="off"),
        progress=False,
        k=5,
        l=2,
        sensitive="diagnosis",
        clinical=clinical,
        clinical_id="MRN",
        quasi_identifiers=QIS,
    )
    return rel, out


def test_release_is_public_api(release: tuple[DicomRelease, Path]) -> None:
    assert medanon.anonymise_dicom is anonymise_dicom
    rel, _ = release
    assert rel.ok, rel.report["errors"]


def test_pycanon_confirms_metadata(release: tuple[DicomRelease, Path]) -> None:
    _, out = release
    meta = pd.read_csv(out / "metadata.csv", dtype=str, keep_default_na=False)
    assert len(meta) == 40 and meta["patient"].is_unique
    assert pycanon.k_anonymity(meta, QIS) >= 5
    assert pycanon.l_diversity(meta, QIS, ["diagnosis"]) >= 2
    pq = pd.read_parquet(out / "metadata.parquet")
    assert list(pq["patient"]) == list(meta["patient"])
    # no identifier column, no original ID
    assert "MRN" not in meta.columns
    assert "outcome" in meta.columns


def test_written_headers_confirm_k_and_l(
    release: tuple[DicomRelease, Path], corpus40: tuple[CorpusManifest, Path]
) -> None:
    rel, out = release
    meta = pd.read_csv(out / "metadata.csv", dtype=str, keep_default_na=False)
    rows = []
    for f in sorted(out.rglob("*.dcm")):
        ds = dcmread(f, stop_before_pixels=True)
        rows.append(
            {
                "patient": str(ds.PatientID),
                "PatientAge": str(ds.get("PatientAge", "")),
                "PatientSex": str(ds.get("PatientSex", "")),
                "PatientWeight": str(ds.get("PatientWeight", "")),
                "PatientSize": str(ds.get("PatientSize", "")),
            }
        )
        # VR-valid: AS is nnnY/nnnM, DS fits 16 characters
        age = rows[-1]["PatientAge"]
        assert age == "" or (len(age) == 4 and age[:3].isdigit() and age[3] in "YM")
        assert len(rows[-1]["PatientWeight"]) <= 16
    files = pd.DataFrame(rows)
    per_patient = files.drop_duplicates()
    assert per_patient["patient"].is_unique  # every file of a patient carries the same values
    assert len(per_patient) == 40
    joined = per_patient.merge(meta[["patient", "diagnosis"]], on="patient")
    hq = ["PatientAge", "PatientSex", "PatientWeight", "PatientSize"]
    assert pycanon.k_anonymity(joined, hq) >= 5
    assert pycanon.l_diversity(joined, hq, ["diagnosis"]) >= 2
    ach = rel.report["achieved"]["headers"]
    assert ach["k"] == pycanon.k_anonymity(joined, hq)
    # the originals held distinct ages for most patients: the release generalised them
    orig_ages = {p.age for p in corpus40[0].patients}
    assert len(set(per_patient["PatientAge"])) < len(orig_ages)


def test_means_preserved_exactly(release: tuple[DicomRelease, Path], corpus40: tuple[CorpusManifest, Path]) -> None:
    _, out = release
    meta = pd.read_csv(out / "metadata.csv")
    patients = {p.patient_id: p for p in corpus40[0].patients}
    weights = np.array([p.weight for p in patients.values()], dtype=float)
    sizes = np.array([p.size for p in patients.values()], dtype=float)
    assert meta["weight_centroid"].mean() == pytest.approx(weights.mean(), rel=1e-12)
    assert meta["size_centroid"].mean() == pytest.approx(sizes.mean(), rel=1e-12)
    assert meta["weight_centroid"].std() < weights.std()  # spread shrinks, mean stays
    fid = json.loads((out / "report.json").read_text())["fidelity"]
    assert fid["weight"]["mean_after"] == pytest.approx(fid["weight"]["mean_before"], rel=1e-12)
    assert fid["weight"]["std_after"] < fid["weight"]["std_before"]


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.headings: list[str] = []
        self._in_h = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")
        self._in_h = tag in ("h1", "h2")

    def handle_data(self, data: str) -> None:
        if self._in_h:
            self.headings.append(data.strip())
            self._in_h = False


def test_report_html_is_self_contained(release: tuple[DicomRelease, Path]) -> None:
    _, out = release
    html = (out / "report.html").read_text()
    p = _Images()
    p.feed(html)
    assert len(p.images) >= 2 and all(s.startswith("data:image/png;base64,") for s in p.images)
    import base64

    for s in p.images:
        assert base64.b64decode(s.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for h in [
        "Privacy, measured on the output",
        "Statistical fidelity (centroid release)",
        "Partitions",
        "Before and after",
        "Burned-in text",
        "Audit",
    ]:
        assert h in p.headings
    assert "http://" not in html and "https://" not in html  # nothing fetched
    rep = json.loads((out / "report.json").read_text())
    assert rep["audit"]["ok"] and rep["privacy_ok"] and rep["ok"]
    assert "key" not in json.dumps(rep["options"]).lower() or rep["key_source"] in ("given", "random")


def test_no_identifier_in_release_files(
    release: tuple[DicomRelease, Path], corpus40: tuple[CorpusManifest, Path]
) -> None:
    _, out = release
    text = "\n".join((out / n).read_text() for n in ("metadata.csv", "report.json", "report.html"))
    for p in corpus40[0].patients:
        assert p.patient_id not in text
        assert p.name.split("^")[0] not in text
    assert KEY.decode() not in text


def _run(tmp_path: Path, m: CorpusManifest, clinical: Path, **kw: Any) -> DicomRelease:
    args: dict[str, Any] = {
        "key": KEY,
        "policy": Policy(burned_in="off"),
        "progress": False,
        "k": 5,
        "l": 2,
        "sensitive": "diagnosis",
        "clinical": clinical,
        "clinical_id": "MRN",
    }
    args.update(kw)
    return anonymise_dicom(m.root, tmp_path / "out", **args)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"k": 41}, "fewer than k = 41"),
        ({"l": 6}, "larger than the number of distinct values"),
        ({"quasi_identifiers": ["age", "shoe_size"]}, "not a DICOM keyword"),
        ({"sensitive": "nope"}, "not a DICOM keyword"),
        ({"clinical_id": "ID"}, "no column 'ID'"),
        ({"k": 0}, "k must be"),
        ({"policy": Policy(burned_in="off", retain_patient_characteristics=True)}, "retain_patient_characteristics"),
    ],
)
def test_refuses_before_writing(
    tmp_path: Path, corpus40: tuple[CorpusManifest, Path], kw: dict[str, Any], message: str
) -> None:
    m, clinical = corpus40
    with pytest.raises(ValueError, match=message):
        _run(tmp_path, m, clinical, **kw)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_research_release_needs_an_empty_destination(tmp_path: Path, corpus40: tuple[CorpusManifest, Path]) -> None:
    m, clinical = corpus40
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.dcm").write_bytes(b"from another run")
    with pytest.raises(ValueError, match="new or empty folder"):
        _run(tmp_path, m, clinical)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.dcm"]


def test_missing_clinical_rows_refused(tmp_path: Path, corpus40: tuple[CorpusManifest, Path]) -> None:
    m, clinical = corpus40
    short = tmp_path / "short.csv"
    pd.read_csv(clinical).iloc[:-3].to_csv(short, index=False)
    with pytest.raises(ValueError, match="3 patient"):
        _run(tmp_path, m, short)
    assert not (tmp_path / "out").exists()


def test_dicom_tag_as_quasi_identifier_and_uniform_sex(tmp_path: Path, corpus40: tuple[CorpusManifest, Path]) -> None:
    m, clinical = corpus40
    rel = _run(tmp_path, m, clinical, quasi_identifiers=["age", "sex", "Modality"], k=4, l=1)
    assert rel.ok
    sexes = {}
    for f in (tmp_path / "out").rglob("*.dcm"):
        ds = dcmread(f, stop_before_pixels=True)
        sexes.setdefault(str(ds.PatientID), set()).add(str(ds.get("PatientSex", "")))
    # each patient one value; values are the original letter or emptied
    assert all(len(v) == 1 for v in sexes.values())
    assert {next(iter(v)) for v in sexes.values()} <= {"M", "F", "O", ""}
    assert rel.report["achieved"]["headers"]["k"] >= 4


def test_hipaa_ages_top_coded(tmp_path: Path) -> None:
    m = make_corpus(
        tmp_path / "in",
        n_patients=12,
        studies_per_patient=1,
        series_per_study=1,
        images_per_series=1,
        seed=5,
        rows=16,
        cols=16,
    )
    # make every patient old
    for f in m.files:
        ds = dcmread(f)
        ds.PatientAge = "095Y"
        ds.save_as(f)
    rel = anonymise_dicom(
        m.root,
        tmp_path / "out",
        key=KEY,
        policy=Policy(burned_in="off"),
        progress=False,
        k=3,
        quasi_identifiers=["age", "weight"],
    )
    ages = {str(dcmread(f, stop_before_pixels=True).PatientAge) for f in (tmp_path / "out").rglob("*.dcm")}
    assert ages == {"090Y"}
    meta = pd.read_csv(tmp_path / "out" / "metadata.csv", dtype=str)
    assert set(meta["age"]) == {"90+"}
    assert rel.ok


def test_without_k_characteristics_follow_the_profile(tmp_path: Path, corpus40: tuple[CorpusManifest, Path]) -> None:
    m, _ = corpus40
    rel = anonymise_dicom(m.root, tmp_path / "out", key=KEY, policy=Policy(burned_in="off"), progress=False)
    assert rel.ok and rel.metadata is None
    ds = dcmread(next((tmp_path / "out").rglob("*.dcm")), stop_before_pixels=True)
    assert "PatientWeight" not in ds and "PatientAge" not in ds
    with pytest.raises(ValueError, match="need k"):
        anonymise_dicom(m.root, tmp_path / "o2", key=KEY, sensitive="diagnosis")


def test_cli_dicom_with_k(
    tmp_path: Path, corpus40: tuple[CorpusManifest, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from medanon.cli import main

    m, clinical = corpus40
    keyf = tmp_path / "key.bin"
    keyf.write_bytes(KEY)
    code = main(
        [
            "dicom",
            str(m.root),
            str(tmp_path / "out"),
            "--key-file",
            str(keyf),
            "--burned-in",
            "off",
            "--no-progress",
            "-k",
            "5",
            "-l",
            "2",
            "--sensitive",
            "diagnosis",
            "--clinical",
            str(clinical),
            "--clinical-id",
            "MRN",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "achieved on the headers: k = " in out
    for p in m.patients:
        assert p.patient_id not in out
    assert main(["dicom", str(m.root), str(tmp_path / "o2"), "--sensitive", "diagnosis"]) == 2


def test_random_key_is_reported_as_random(tmp_path: Path) -> None:
    m = make_corpus(
        tmp_path / "in",
        n_patients=6,
        studies_per_patient=1,
        series_per_study=1,
        images_per_series=1,
        seed=2,
        rows=16,
        cols=16,
    )
    with pytest.warns(UserWarning, match="random key"):
        rel = anonymise_dicom(m.root, tmp_path / "out", policy=Policy(burned_in="off"), progress=False, k=3)
    assert rel.report["key_source"] == "random"
    assert rel.ok
