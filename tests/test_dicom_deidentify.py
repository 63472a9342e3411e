"""Dataset-level engine: profile actions, UIDs, dates, characteristics, VR validity."""

from __future__ import annotations

import copy
import warnings

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from medanon.dicom.deidentify import deidentify, deidentify_with_stats, patient_token, vr_problems
from medanon.dicom.policy import Policy
from medanon.dicom.pseudonym import Pseudonymizer, is_standard_uid, shift_da, shift_dt

KEY = b"k" * 32
FILES = ["CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm",
         "JPEG2000.dcm", "rtplan.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm", "emri_small.dcm",
         "waveform_ecg.dcm", "rtstruct.dcm", "SC_rgb_jpeg_gdcm.dcm"]


def _read(name: str) -> Dataset:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} not available")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dcmread(path, force=True)


def _all_uids(ds: Dataset) -> list[str]:
    out = []
    for elem in ds.iterall():
        if elem.VR == "UI" and elem.value:
            vals = elem.value if isinstance(elem.value, list) else [elem.value]
            out.extend(str(v) for v in vals)
    return out


@pytest.mark.parametrize("name", FILES)
def test_pydicom_files_deidentify_to_valid_datasets(name: str) -> None:
    ds = _read(name)
    before = copy.deepcopy(ds)
    out = deidentify(ds, Policy(), KEY)
    assert ds == before, "the caller's dataset must not change"
    assert vr_problems(out) == []
    assert out.PatientIdentityRemoved == "YES"
    assert str(out.PatientName).startswith("ANON^")
    assert str(out.PatientID).startswith("ANON-")
    assert not any(e.tag.is_private for e in out.iterall())
    orig_uids = {u for u in _all_uids(ds) if not is_standard_uid(u)}
    for uid in _all_uids(out):
        assert len(uid) <= 64
        assert is_standard_uid(uid) or uid.startswith("2.25."), "non-standard UID kept"
        assert uid not in orig_uids
    if "SOPInstanceUID" in out:
        assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.SOPClassUID == ds.SOPClassUID
    codes = [i.CodeValue for i in out.DeidentificationMethodCodeSequence]
    assert codes[0] == "113100"
    assert "113107" in codes
    assert all(i.CodingSchemeDesignator == "DCM" for i in out.DeidentificationMethodCodeSequence)


def test_removed_replaced_and_kept_attributes() -> None:
    ds = _read("CT_small.dcm")
    ds.InstitutionName = "ST ELSEWHERE"
    ds.PatientAddress = "1 HIGH STREET"
    ds.ImageComments = "call Dr Who"
    ds.ReferringPhysicianName = "WHO^DOCTOR"
    ds.add_new(0x00181030, "LO", "protocol of JANE")  # ProtocolName: X/D + clean descriptors
    ds.add_new(0x60003000, "OW", b"\x00\x01" * 8)  # overlay data
    ds.add_new(0x60004000, "LT", "overlay comment")
    out = deidentify(ds, Policy(), KEY)
    assert "PatientAddress" not in out
    assert "ImageComments" not in out
    assert out.ReferringPhysicianName == ""  # Z
    assert str(out.InstitutionName) == "ANON"  # X/Z/D -> D (dummy)
    assert 0x60003000 not in out
    assert 0x60004000 not in out
    assert out.Rows == ds.Rows
    assert out.PixelData == ds.PixelData
    assert out.Modality == ds.Modality
    assert out.ImageType == ds.ImageType
    kept = deidentify(ds, Policy(retain_institution_identity=True), KEY)
    assert kept.InstitutionName == "ST ELSEWHERE"
    assert "113112" in [i.CodeValue for i in kept.DeidentificationMethodCodeSequence]


def test_unknown_public_text_removed_but_codes_kept() -> None:
    ds = Dataset()
    ds.PatientID = "P1"
    ds.add_new(0x00181210, "SH", "JANE")  # ConvolutionKernel: safe keep list
    ds.add_new(0x00400254, "LO", "JANE DOE")  # PerformedProcedureStepDescription (table)
    ds.add_new(0x00189004, "CS", "PRODUCT")  # ContentQualification
    ds.add_new(0x00204000, "LT", "free text")  # ImageComments (table X)
    ds.add_new(0x00100021, "LO", "ISSUER")
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "T-1", "SRT", "Chest"
    ds.AnatomicRegionSequence = Sequence([code])
    ds.add_new(0x0018980A, "LO", "not in any list")  # unknown-to-table LO
    out = deidentify(ds, Policy(), KEY)
    assert out.ConvolutionKernel == "JANE"
    assert out.ContentQualification == "PRODUCT"
    assert "PerformedProcedureStepDescription" not in out
    assert 0x00204000 not in out
    assert 0x00100021 not in out
    assert 0x0018980A not in out
    assert out.AnatomicRegionSequence[0].CodeMeaning == "Chest"


def test_uids_keyed_consistent_and_references_follow() -> None:
    ds = _read("MR_small.dcm")
    ref = Dataset()
    ref.ReferencedSOPClassUID = ds.SOPClassUID
    ref.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    ds.SourceImageSequence = Sequence([ref])
    a = deidentify(ds, Policy(), KEY)
    b = deidentify(ds, Policy(), KEY)
    c = deidentify(ds, Policy(), b"other key" * 4)
    assert a.SOPInstanceUID == b.SOPInstanceUID != c.SOPInstanceUID
    assert a.SourceImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    assert a.SourceImageSequence[0].ReferencedSOPClassUID == ds.SOPClassUID
    assert a.PatientID == b.PatientID != c.PatientID
    retained = deidentify(ds, Policy(retain_uids=True), KEY)
    assert retained.SOPInstanceUID == ds.SOPInstanceUID
    assert retained.StudyInstanceUID == ds.StudyInstanceUID


def test_pseudonym_uid_shape() -> None:
    p = Pseudonymizer(KEY)
    for uid in ["1.2.3", "1.2.826.0.1.3680043.8.498." + "9" * 30, "2.25.1"]:
        new = p.uid(uid)
        assert new.startswith("2.25.")
        assert len(new) <= 64
        assert not new[5:].startswith("0")
    assert p.uid("1.2.840.10008.1.2.1") == "1.2.840.10008.1.2.1"


def test_dates_shift_per_patient_and_keep_intervals() -> None:
    def make(pid: str, study: str, birth: str) -> Dataset:
        ds = Dataset()
        ds.PatientID = pid
        ds.StudyDate = study
        ds.PatientBirthDate = birth
        ds.AcquisitionDateTime = study + "101500.25+0100"
        ds.StudyTime = "101500"
        return ds

    a1 = deidentify(make("A", "20200110", "19600101"), Policy(), KEY)
    a2 = deidentify(make("A", "20210315", "19600101"), Policy(), KEY)
    b1 = deidentify(make("B", "20200110", "19600101"), Policy(), KEY)
    import datetime as dt

    def d(s: str) -> dt.date:
        return dt.date(int(s[:4]), int(s[4:6]), int(s[6:8]))

    shift_a = (d(a1.StudyDate) - d("20200110")).days
    assert -3650 <= shift_a <= -1
    assert (d(a2.StudyDate) - d(a1.StudyDate)).days == (d("20210315") - d("20200110")).days
    assert a1.AcquisitionDateTime[:8] == a1.StudyDate
    assert a1.AcquisitionDateTime[8:] == "101500.25+0100"
    assert a1.StudyTime == "101500"
    assert a1.LongitudinalTemporalInformationModified == "MODIFIED"
    assert (d(b1.StudyDate) - d("20200110")).days != shift_a  # another patient, other shift
    assert a1.PatientBirthDate == ""  # Z in the basic profile, no date option lists it
    full = deidentify(make("A", "20200110", "19600101"), Policy(retain_long_full_dates=True), KEY)
    assert full.StudyDate == "20200110"
    assert full.LongitudinalTemporalInformationModified == "UNMODIFIED"
    none = deidentify(make("A", "20200110", "19600101"),
                      Policy(retain_long_modified_dates=False), KEY)
    assert none.StudyDate == ""
    assert none.LongitudinalTemporalInformationModified == "REMOVED"


@pytest.mark.parametrize(
    ("fn", "value", "days", "expected"),
    [
        (shift_da, "20240301", -1, "20240229"),
        (shift_da, "20240101-20240131", -1, "20231231-20240130"),
        (shift_da, "-20240101", -1, "-20231231"),
        (shift_da, "2024.03.01", -1, "20240229"),
        (shift_da, "20240230", -1, None),
        (shift_da, "20240101\\20240102", 1, "20240102\\20240103"),
        (shift_dt, "2024", -365, "2023"),
        (shift_dt, "202403", -1, "202402"),
        (shift_dt, "20240301235959.123456-0500", -1, "20240229235959.123456-0500"),
        (shift_dt, "20240301-20240302", -1, "20240229-20240301"),
        (shift_dt, "garbage", 3, None),
    ],
)
def test_date_shift_functions(fn, value, days, expected) -> None:  # type: ignore[no-untyped-def]
    assert fn(value, days) == expected


def test_characteristics_are_applied_and_valid() -> None:
    ds = _read("CT_small.dcm")
    token = patient_token(ds, KEY)
    out = deidentify(ds, Policy(), KEY, {"PatientAge": "045Y", "PatientSex": None,
                                         "PatientWeight": 71.33333333333333333,
                                         "PatientSize": "1.7"})
    assert out.PatientID == token
    assert out.PatientAge == "045Y"
    assert out.PatientSex == ""
    assert len(str(out.PatientWeight)) <= 16
    assert abs(float(out.PatientWeight) - 71.3333) < 1e-3
    assert vr_problems(out) == []
    with pytest.raises(ValueError, match="PatientAge"):
        deidentify(ds, Policy(), KEY, {"PatientAge": "45 years"})
    with pytest.raises(ValueError, match="NotAKeyword"):
        deidentify(ds, Policy(), KEY, {"NotAKeyword": 1})


def test_invalid_kept_values_are_removed_not_written() -> None:
    ds = Dataset()
    ds.PatientID = "X"
    # SliceThickness with an invalid DS, as read from a file
    ds[0x00180050] = RawDataElement(Tag(0x00180050), "DS", 4, b"abc ", 0, False, True)
    ds.add_new(0x00280010, "US", 5)
    out, stats = deidentify_with_stats(ds, Policy(), KEY)
    assert 0x00180050 not in out
    assert out.Rows == 5
    assert stats.invalid_removed == 1


def test_vr_problems_detects_bad_values() -> None:
    ds = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.add_new(0x00080020, "DA", "20241301")
        ds.add_new(0x00080030, "TM", "256000")
        ds.add_new(0x0020000D, "UI", "1.02.3")
        ds.add_new(0x00101010, "AS", "45Y")
        ds.add_new(0x00200011, "IS", "1.5")
        ds.add_new(0x00080050, "SH", "X" * 17)
    assert len(vr_problems(ds)) == 6


def test_nested_patient_elements_and_private_sequences() -> None:
    ds = Dataset()
    ds.PatientID = "MAIN"
    item = Dataset()
    item.PatientID = "OTHER-ID"
    item.PatientName = "DOE^JOHN"
    ds.ReferencedSeriesSequence = Sequence([item])  # not in table -> recursed
    block = ds.private_block(0x0011, "ACME", create=True)
    block.add_new(0x01, "LO", "DOE^JOHN")
    out = deidentify(ds, Policy(), KEY)
    nested = out.ReferencedSeriesSequence[0]
    assert nested.PatientName == ""
    assert nested.PatientID.startswith("ANON-")
    assert nested.PatientID != "OTHER-ID"
    assert not any(e.tag.is_private for e in out.iterall())
    kept = deidentify(ds, Policy(remove_private=False), KEY)
    assert any(e.tag.is_private for e in kept.iterall())
    assert "private attributes kept (not conformant)" in kept.DeidentificationMethod


def test_rejects_wrong_argument_types() -> None:
    with pytest.raises(TypeError, match="ds"):
        deidentify({}, Policy(), KEY)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="policy"):
        deidentify(Dataset(), {}, KEY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key"):
        deidentify(Dataset(), Policy(), b"")
