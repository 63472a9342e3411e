"""Folder pipeline and audit on the synthetic corpus and on broken inputs."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian

from medanon.dicom import pipeline
from medanon.dicom.audit import audit
from medanon.dicom.deidentify import vr_problems
from medanon.dicom.pipeline import deidentify_folder as anonymise_dicom
from medanon.dicom.pipeline import key_from_file, process_file
from medanon.dicom.policy import Policy

OFF = Policy(burned_in="off")


def _outputs(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _read(path: Path):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dcmread(path)


def test_corpus_run_is_complete_valid_and_leak_free(corpus, anonymised) -> None:  # type: ignore[no-untyped-def]
    out, report = anonymised
    assert report.ok
    assert report.written == len(corpus.files)
    assert report.failed == 0
    files = _outputs(out)
    assert len(files) == len(corpus.files)
    assert not [p for p in out.rglob(".*")], "temporary files left behind"
    for p in files[:8]:
        ds = _read(p)
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert vr_problems(ds) == []
        rel = p.relative_to(out).parts
        assert rel == (ds.StudyInstanceUID, ds.SeriesInstanceUID, f"{ds.SOPInstanceUID}.dcm")
    rep = audit(corpus.root, out, report=report)
    assert rep.ok, rep.summary()
    assert rep.paired == len(files)
    assert rep.identifiers > 100
    # the report holds no identifier
    text = json.dumps(report.to_dict())
    for values in corpus.identifiers().values():
        for v in values:
            assert v not in text
            assert v.replace("^", " ") not in text
    assert str(corpus.root) not in text


def test_audit_finds_planted_leaks_in_untouched_copy(corpus, corpus_copy) -> None:  # type: ignore[no-untyped-def]
    rep = audit(corpus.root, corpus_copy)
    assert not rep.ok
    kinds = rep.hits_by_kind()
    for kind in ("name", "id", "uid", "birth date", "date", "address", "phone", "institution"):
        assert kinds.get(kind, 0) > 0, kind
    locations = {h.location for h in rep.hits}
    assert "PatientName" in locations
    assert "(0009,1010)" in locations
    assert "RequestAttributesSequence[0].RequestedProcedureID" in locations
    assert "meta:MediaStorageSOPInstanceUID" in locations
    for h in rep.hits:  # never the value
        assert "MRN" not in h.location
        assert "^" not in h.location


def test_audit_detects_a_single_leak_and_uid_inconsistency(corpus, anonymised, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out, report = anonymised
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    files = _outputs(copy)
    ds = _read(files[0])
    ds.ImageComments = "seen by " + corpus.patients[0].name.split("^")[0].lower()
    ds.save_as(files[0])
    ds2 = _read(files[1])
    ds2.FrameOfReferenceUID = "2.25.1234"
    ds2.save_as(files[1])
    rep = audit(corpus.root, copy, report=report)
    assert [h.location for h in rep.hits] == ["ImageComments"]
    assert rep.hits[0].kind == "name"
    assert rep.uid_problems  # one original FrameOfReferenceUID -> two pseudonyms


def test_hierarchy_references_and_uid_consistency(corpus, anonymised) -> None:  # type: ignore[no-untyped-def]
    out, _ = anonymised
    dss = [_read(p) for p in _outputs(out)]
    assert len({d.StudyInstanceUID for d in dss}) == len(set(corpus.study_uids))
    assert len({d.SeriesInstanceUID for d in dss}) == len(set(corpus.series_uids))
    assert len({d.SOPInstanceUID for d in dss}) == len(dss)
    sops = {d.SOPInstanceUID: d for d in dss}
    n_refs = 0
    for d in dss:
        assert d.file_meta.MediaStorageSOPInstanceUID == d.SOPInstanceUID
        for ref in d.get("ReferencedImageSequence", []):
            target = sops[ref.ReferencedSOPInstanceUID]  # the reference resolves
            assert target.SeriesInstanceUID == d.SeriesInstanceUID
            n_refs += 1
        for item in d.get("RequestAttributesSequence", []):
            if "StudyInstanceUID" in item:
                assert item.StudyInstanceUID == d.StudyInstanceUID
    assert n_refs > 0
    by_patient: dict[str, set[str]] = {}
    for d in dss:
        by_patient.setdefault(str(d.PatientID), set()).add(d.StudyInstanceUID)
    assert len(by_patient) == len(corpus.patients)
    assert all(len(s) == 2 for s in by_patient.values())


def test_shift_is_per_patient_and_keeps_intervals(corpus, anonymised) -> None:  # type: ignore[no-untyped-def]
    out, _ = anonymised
    dss = [_read(p) for p in _outputs(out)]

    def d(s: str) -> dt.date:
        return dt.date(int(s[:4]), int(s[4:6]), int(s[6:8]))

    shifted = {}
    for ds in dss:
        shifted.setdefault(str(ds.PatientID), set()).add(ds.StudyDate)
        assert ds.AcquisitionDateTime[:8] == ds.StudyDate
    for patient in corpus.patients:
        originals = sorted(set(patient.study_dates))
        matches = [sorted(v) for v in shifted.values() if len(v) == len(originals)]
        gaps = [(d(originals[1]) - d(originals[0])).days] if len(originals) > 1 else []
        assert any([(d(m[1]) - d(m[0])).days] == gaps and m[0] not in originals for m in matches)


def test_pixel_data_unchanged_with_burned_in_off(corpus, anonymised) -> None:  # type: ignore[no-untyped-def]
    out, report = anonymised
    by_index = {r.index: r.output for r in report.results}
    for i, src in enumerate(corpus.files[:6]):
        a = _read(src)
        b = _read(out / by_index[i])
        assert b.PixelData == a.PixelData
        assert np.array_equal(a.pixel_array, b.pixel_array)


def test_determinism_same_key_identical_bytes_other_key_disjoint(  # type: ignore[no-untyped-def]
    corpus, anonymised, tmp_path, dicom_key
) -> None:
    out, _ = anonymised
    again = tmp_path / "again"
    anonymise_dicom(corpus.root, again, key=dicom_key, policy=OFF, progress=False)
    first = {p.relative_to(out): p.read_bytes() for p in _outputs(out)}
    second = {p.relative_to(again): p.read_bytes() for p in _outputs(again)}
    assert first == second
    other = tmp_path / "other"
    anonymise_dicom(corpus.root, other, key=b"another key, 32 bytes long......", policy=OFF, progress=False)
    tokens_a = {part for p in first for part in p.parts}
    tokens_b = {part for p in _outputs(other) for part in p.relative_to(other).parts}
    assert not tokens_a & tokens_b
    ids_a = {str(_read(out / p).PatientID) for p in list(first)[:4]}
    ids_b = {str(_read(p).PatientID) for p in _outputs(other)}
    assert not ids_a & ids_b


def test_two_workers_same_output(corpus, anonymised, tmp_path, dicom_key) -> None:  # type: ignore[no-untyped-def]
    out, _ = anonymised
    par = tmp_path / "par"
    report = anonymise_dicom(corpus.root, par, key=dicom_key, policy=OFF, workers=2, progress=False)
    assert report.ok
    assert report.workers == 2
    assert [r.index for r in report.results] == sorted(r.index for r in report.results)
    assert {p.relative_to(par): p.read_bytes() for p in _outputs(par)} == {
        p.relative_to(out): p.read_bytes() for p in _outputs(out)
    }


def _write_bad_inputs(root: Path) -> dict[str, str]:
    """Broken files; returns name -> expected outcome ('ok' or 'failed')."""
    root.mkdir(parents=True)
    ct = Path(get_testdata_file("CT_small.dcm"))
    data = ct.read_bytes()
    (root / "truncated.dcm").write_bytes(data[:1000])
    (root / "random.bin").write_bytes(np.random.default_rng(0).bytes(4096))
    (root / "text.txt").write_text("SMITH^JOHN 19700101\n")
    (root / "empty.dcm").write_bytes(b"")
    (root / "DICOMDIR").write_bytes(data)
    (root / ".hidden.dcm").write_bytes(data)
    (root / "empty_dir").mkdir()
    implicit = _read(Path(get_testdata_file("MR_small_implicit.dcm")))
    implicit.SOPInstanceUID = implicit.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6.7"
    implicit.save_as(root / "implicit.dcm")  # stays implicit VR
    assert _read(root / "implicit.dcm").file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
    shutil.copy(get_testdata_file("MR_small_bigendian.dcm"), root / "bigendian.dcm")
    shutil.copy(get_testdata_file("image_dfl.dcm"), root / "deflated.dcm")
    shutil.copy(get_testdata_file("ExplVR_LitEndNoMeta.dcm"), root / "nometa.dcm")
    mr = _read(Path(get_testdata_file("MR_small.dcm")))
    mr.SeriesDescription = "changed"
    mr.save_as(root / "zz_dup.dcm")
    # a sequence of undefined length whose delimiter is cut off
    cut = data.find(b"\xfe\xff\xdd\xe0")
    (root / "undefined_length_cut.dcm").write_bytes(data[: cut if cut > 0 else len(data) // 2])
    # wrong VR: Rows (US) with an odd length in explicit VR
    ds = _read(ct)
    ds.add_new(0x00181030, "LO", "x")
    ds.save_as(root / "wrongvr.dcm")
    raw = (root / "wrongvr.dcm").read_bytes()
    raw = raw.replace(b"\x28\x00\x10\x00US\x02\x00", b"\x28\x00\x10\x00US\x03\x00", 1)
    (root / "wrongvr.dcm").write_bytes(raw)
    gz = gzip.compress(data)
    (root / "gzipped.dcm.gz").write_bytes(gz)
    assert zlib  # deflate handled by pydicom for the deflated transfer syntax
    return {
        "truncated.dcm": "failed",
        "random.bin": "failed",
        "text.txt": "failed",
        "empty.dcm": "failed",
        "implicit.dcm": "ok",
        "bigendian.dcm": "ok",
        "deflated.dcm": "ok",
        "nometa.dcm": "ok",
        "gzipped.dcm.gz": "failed",
        # same SOP Instance UID as implicit.dcm, other content: never overwrites it
        "zz_dup.dcm": "failed",
    }


def test_bad_inputs_are_reported_and_never_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "bad"
    expected = _write_bad_inputs(src)
    dst = tmp_path / "out"
    report = anonymise_dicom(src, dst, key=b"x" * 32, policy=OFF, progress=False)
    names = sorted(p.name for p in src.iterdir() if p.is_file() and not p.name.startswith("."))
    by_name = dict(zip(names, report.results, strict=True))  # sorted walk order
    for name, outcome in expected.items():
        assert by_name[name].status == outcome, (name, by_name[name].reason)
        if outcome == "failed":
            assert by_name[name].reason
            assert by_name[name].output == ""
    assert by_name["DICOMDIR"].status == "skipped"
    assert by_name["random.bin"].reason.startswith("not DICOM")
    assert report.hidden_skipped == 1
    assert not report.ok
    assert report.failed >= 5
    assert len(_outputs(dst)) == report.written
    text = json.dumps(report.to_dict())  # no original names or paths in the report
    assert str(src) not in text
    assert ".dcm.gz" not in text
    assert "bigendian" not in text
    # every written output is valid and converted to explicit VR little endian
    for p in _outputs(dst):
        ds = _read(p)
        assert vr_problems(ds) == []
        assert not ds.file_meta.TransferSyntaxUID.is_deflated
    big = _read(dst / by_name["bigendian.dcm"].output)
    orig = _read(src / "bigendian.dcm")
    assert np.array_equal(big.pixel_array, orig.pixel_array)
    assert big.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian


def test_unreadable_file_is_reported(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # root can read chmod 000 files, so simulate the OSError instead
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), src / "a.dcm")
    real_open = open

    def fake_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(file).endswith("a.dcm"):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    res = process_file(src / "a.dcm", tmp_path / "out", OFF, b"x" * 32, None, index=3)
    assert res.status == "failed"
    assert res.reason.startswith("unreadable")
    assert res.index == 3


def test_empty_folder_and_path_rules(tmp_path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty"
    empty.mkdir()
    report = anonymise_dicom(empty, tmp_path / "o", key=b"x" * 32, policy=OFF, progress=False)
    assert not report.ok
    assert report.notes == ["no files found under src"]
    with pytest.raises(ValueError, match="dst"):
        anonymise_dicom(empty, empty, key=b"x" * 32, progress=False)
    with pytest.raises(ValueError, match="dst"):
        anonymise_dicom(empty, empty / "sub", key=b"x" * 32, progress=False)
    with pytest.raises(FileNotFoundError, match="src"):
        anonymise_dicom(tmp_path / "missing", tmp_path / "o2", key=b"x" * 32, progress=False)
    with pytest.raises(ValueError, match="workers"):
        anonymise_dicom(empty, tmp_path / "o3", key=b"x" * 32, workers=0, progress=False)


def test_random_key_warns_and_key_never_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), src / "a.dcm")
    with pytest.warns(UserWarning, match="will not match"):
        report = anonymise_dicom(src, tmp_path / "o", policy=OFF, progress=False)
    assert report.ok
    assert report.key_source == "random"
    key = b"THE-SECRET-KEY-0123456789-abcdef"
    keyfile = tmp_path / "key.txt"
    keyfile.write_bytes(key + b"\n")
    assert key_from_file(keyfile) == key
    report = anonymise_dicom(src, tmp_path / "o2", key=key_from_file(keyfile), policy=OFF, progress=False)
    report.write_json(tmp_path / "report.json")
    for p in [*_outputs(tmp_path / "o2"), tmp_path / "report.json"]:
        assert key not in p.read_bytes()
    short = tmp_path / "short.txt"
    short.write_bytes(b"abc")
    with pytest.raises(ValueError, match="16 bytes"):
        key_from_file(short)


def test_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), src / "a.dcm")
    dst = tmp_path / "out"

    def boom(ds):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # the temporary file exists (mkstemp) at this point

    monkeypatch.setattr(pipeline, "_encode_explicit_le", boom)
    with pytest.raises(KeyboardInterrupt):
        anonymise_dicom(src, dst, key=b"x" * 32, policy=OFF, progress=False)
    assert [p for p in dst.rglob("*") if p.is_file()] == []

    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, fd: int, mode: str) -> None:
            self.f = real_fdopen(fd, mode)

        def __enter__(self) -> HalfWriter:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

        def write(self, data: bytes) -> int:
            self.f.write(data[: len(data) // 2])
            raise OSError("disk full")

    monkeypatch.setattr(pipeline, "_encode_explicit_le", lambda ds: b"\0" * 400)
    monkeypatch.setattr(pipeline.os, "fdopen", HalfWriter)
    report = anonymise_dicom(src, dst, key=b"x" * 32, policy=OFF, progress=False)
    assert report.failed == 1
    assert "cannot be written" in report.results[0].reason
    assert [p for p in dst.rglob("*") if p.is_file()] == []


def test_pixel_step_hook(corpus, tmp_path, dicom_key, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    src = corpus.files[0]
    from medanon.dicom import pixels

    class Result:
        scanned, boxes_masked, frames = True, 2, 1

    monkeypatch.setattr(pixels, "clean_pixels", lambda ds, policy: Result())
    res = process_file(src, tmp_path / "a", Policy(), dicom_key, None)
    assert res.status == "ok"
    assert res.pixel == "scanned"
    assert res.boxes_masked == 2
    ds = _read(tmp_path / "a" / res.output)
    assert "113101" in [i.CodeValue for i in ds.DeidentificationMethodCodeSequence]

    def undecodable(ds, policy):  # type: ignore[no-untyped-def]
        raise pixels.PixelDataError("cannot decode")

    monkeypatch.setattr(pixels, "clean_pixels", undecodable)
    res = process_file(src, tmp_path / "b", Policy(), dicom_key, None)
    assert res.status == "failed"
    assert "cannot decode" in res.reason
    assert not (tmp_path / "b").exists() or _outputs(tmp_path / "b") == []
    res = process_file(src, tmp_path / "c", Policy(allow_undecodable_pixels=True), dicom_key, None)
    assert res.status == "ok"
    assert res.pixel == "undecodable"
    monkeypatch.delattr(pixels, "clean_pixels")
    res = process_file(src, tmp_path / "d", Policy(), dicom_key, None)
    assert res.status == "ok"
    assert res.pixel == "unavailable"


def test_characteristics_by_patient_applied(corpus, tmp_path, dicom_key) -> None:  # type: ignore[no-untyped-def]
    from medanon.dicom.deidentify import patient_token

    src = corpus.files[0]
    token = patient_token(_read(src), dicom_key, OFF)
    res = process_file(src, tmp_path, OFF, dicom_key, {token: {"PatientAge": "040Y", "PatientSex": "F"}})
    ds = _read(tmp_path / res.output)
    assert ds.PatientAge == "040Y"
    assert ds.PatientSex == "F"
    assert ds.PatientID == token
    assert os.path.basename(res.output).endswith(".dcm")


class _KillsWorker:
    """Unpickling this in a worker ends the worker at once (as a crashing decoder would)."""

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return (os._exit, (3,))


def test_dead_worker_files_reported_not_written(corpus, dicom_key: bytes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    report = anonymise_dicom(
        corpus.root,
        out,
        key=dicom_key,
        policy=OFF,
        workers=2,
        progress=False,
        characteristics_by_patient={"x": {"PatientAge": _KillsWorker()}},
    )
    assert report.failed == len(corpus.files) and report.written == 0
    assert {r.reason for r in report.results} == {"worker process died while processing this batch"}
    assert not list(out.rglob("*.dcm"))


def test_audit_with_workers_finds_the_same(tmp_path: Path) -> None:
    from medanon.synthetic.dicom_corpus import make_corpus

    m = make_corpus(
        tmp_path / "in",
        n_patients=6,
        studies_per_patient=2,
        series_per_study=2,
        images_per_series=3,
        seed=9,
        rows=16,
        cols=16,
    )
    assert len(m.files) >= 64  # enough for the parallel path
    shutil.copytree(m.root, tmp_path / "copy")
    one, two = audit(m.root, tmp_path / "copy"), audit(m.root, tmp_path / "copy", workers=2)
    assert not one.ok and one.to_dict() == two.to_dict()
    out = tmp_path / "out"
    report = anonymise_dicom(m.root, out, key=b"k" * 32, policy=OFF, progress=False)
    clean = audit(m.root, out, report=report, workers=2)
    assert clean.ok and clean.paired == len(m.files)


def test_pydicom_test_files_released_without_leaks(tmp_path: Path, dicom_key: bytes) -> None:
    """Every file pydicom ships (odd, broken and already-anonymised ones included)."""
    import pydicom.data

    src = Path(pydicom.data.get_testdata_file("CT_small.dcm")).parent  # type: ignore[arg-type]
    out = tmp_path / "out"
    report = anonymise_dicom(src, out, key=dicom_key, policy=OFF, progress=False)
    assert report.written > 100
    assert all(r.reason for r in report.results if r.status == "failed")  # every failure says why
    rep = audit(src, out, report=report)
    assert rep.ok, rep.summary()
    untouched = audit(src, src)  # the originals against themselves: the audit does see identifiers
    assert len(untouched.hits) > 1000
