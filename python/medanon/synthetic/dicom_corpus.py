"""A seeded synthetic DICOM corpus with identifiers planted everywhere.

Every file is valid DICOM (explicit VR little endian, small pixels) and
carries identifying values in the patient module, physicians, institution,
accession number, dates and times, descriptions, a private block, nested
sequences (including UIDs that reference other files of the corpus) and the
file meta. Patients have varied age, sex, weight, size and ethnic group, so
that a corpus-level k-anonymity step has something to generalise.

Nothing here is a real person: names are drawn from common name lists.

References
----------
DICOM PS3.3 (CT, MR, US, CR image IODs), PS3.10 (file format).
"""

from __future__ import annotations

import datetime as _dt
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian

__all__ = ["CorpusManifest", "PlantedPatient", "make_corpus"]

_SOP = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "SC": "1.2.840.10008.5.1.4.1.1.7",
}
_ORG_ROOT = "1.2.826.0.1.3680043.9.7433"
_FAMILY = [
    "OKONKWO", "NAKAMURA", "FERNANDEZ", "KOWALSKI", "ANDERSSON", "MBEKI", "OLSEN",
    "PETROVA", "RAMIREZ", "SCHNEIDER", "TANAKA", "WILLIAMSON", "ABERNATHY", "DUBOIS",
    "GALLAGHER", "HAKIMI", "IVANOVA", "JOHANSSON", "KRISHNAN", "LINDQVIST",
]
_GIVEN = [
    "AMARA", "BEATRIX", "CORNELIUS", "DESMOND", "EVANGELINE", "FREDERIK", "GWENDOLYN",
    "HORATIO", "ISOLDE", "JOAQUIN", "KATHARINA", "LEOPOLD", "MARGUERITE", "NIKOLAI",
    "OCTAVIA", "PERPETUA", "QUENTIN", "ROSALIND", "SEBASTIAN", "THEODORA",
]
_STREETS = ["MAPLEWOOD AVENUE", "QUARRY LANE", "HAWTHORNE ROAD", "ELDERBERRY CLOSE"]
_CITIES = ["BRIGHTWATER", "NORTHCLIFFE", "ASHBOURNE", "KINGSBRIDGE"]
_ETHNIC = ["WHITE", "BLACK", "ASIAN", "HISPANIC", "MIXED", "OTHER"]
_INSTITUTIONS = ["ST SWITHIN GENERAL HOSPITAL", "RIVERBEND MEDICAL CENTRE"]
_DESCRIPTIONS = {"CT": "CT CHEST", "MR": "MR BRAIN", "US": "US ABDOMEN", "CR": "CR THORAX"}


@dataclass
class PlantedPatient:
    """The identifiers planted for one patient (for tests and the audit)."""

    name: str
    patient_id: str
    birth_date: str
    sex: str
    age: str
    weight: float
    size: float
    ethnic_group: str
    address: str
    phone: str
    other_id: str
    study_dates: list[str] = field(default_factory=list)


@dataclass
class CorpusManifest:
    """What :func:`make_corpus` wrote."""

    root: Path
    files: list[Path]
    patients: list[PlantedPatient]
    study_uids: list[str]
    series_uids: list[str]
    sop_uids: list[str]
    physicians: list[str]
    accession_numbers: list[str]

    def identifiers(self) -> dict[str, list[str]]:
        """Planted values by kind (``name``, ``id``, ``date``, ``uid``, ...)."""
        return {
            "name": [p.name for p in self.patients] + self.physicians,
            "id": [p.patient_id for p in self.patients] + [p.other_id for p in self.patients]
            + self.accession_numbers,
            "birth_date": [p.birth_date for p in self.patients],
            "address": [p.address for p in self.patients],
            "phone": [p.phone for p in self.patients],
            "uid": self.study_uids + self.series_uids + self.sop_uids,
        }


class _Uids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"{_ORG_ROOT}.{self.rng.randint(1, 10**9)}.{self.n}"


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FAMILY)}^{rng.choice(_GIVEN)}"


def _pixels(rows: int, cols: int, modality: str, seed: int) -> tuple[np.ndarray, int]:
    # Modality-like backgrounds (speckle in a sector for US, a body outline for
    # CT/MR, a radiograph for CR), so that burned-in text sits on realistic pixels.
    from medanon.synthetic.text_images import make_background

    g = np.random.default_rng(seed)
    kind = {"US": "us", "SC": "us", "CR": "xr", "DX": "xr"}.get(modality, "ct")
    if min(rows, cols) < 64:  # too small for anatomy: plain noise
        bg = g.uniform(0, 200 if kind == "us" else 3000, size=(rows, cols))
    else:
        bg = make_background(kind, (rows, cols), g)
    if modality in ("US", "SC"):
        return np.clip(bg, 0, 255).astype(np.uint8), 8
    return np.clip(bg, 0, 4095).astype(np.uint16), 16


def _draw_text(arr: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = np.ascontiguousarray(arr)
    scale = max(0.25, arr.shape[1] / 400)
    cv2.putText(out, text, (2, max(10, arr.shape[0] // 6)), cv2.FONT_HERSHEY_SIMPLEX,
                scale, 255, 1, cv2.LINE_8)
    return out


def make_corpus(
    out_dir: str | os.PathLike[str],
    n_patients: int = 6,
    studies_per_patient: int = 2,
    series_per_study: int = 2,
    images_per_series: int = 3,
    seed: int = 0,
    rows: int = 64,
    cols: int = 64,
    modalities: tuple[str, ...] = ("CT", "MR", "US", "CR"),
    burned_in_text: bool = False,
) -> CorpusManifest:
    """Write a synthetic corpus under ``out_dir`` and describe it.

    Files are ``P###/ST##/SE##/IM####`` (every other one with ``.dcm``);
    names carry no identifier. Same seed, same bytes.

    Parameters
    ----------
    out_dir : path-like
        Created if needed.
    n_patients, studies_per_patient, series_per_study, images_per_series : int
        Corpus shape (files = product of the four).
    seed : int
        Random seed.
    rows, cols : int
        Image size.
    modalities : tuple of str
        Drawn per study from CT, MR, US, CR.
    burned_in_text : bool
        Draw the patient name and ID into US images with ``cv2.putText``.

    Examples
    --------
    >>> import tempfile
    >>> m = make_corpus(tempfile.mkdtemp(), n_patients=1, studies_per_patient=1,
    ...                 series_per_study=1, images_per_series=2)
    >>> len(m.files)
    2

    References
    ----------
    DICOM PS3.3 A.3 (CT Image IOD), PS3.10 7.1.
    """
    for name, value in (("n_patients", n_patients), ("studies_per_patient", studies_per_patient),
                        ("series_per_study", series_per_study),
                        ("images_per_series", images_per_series), ("rows", rows),
                        ("cols", cols)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    bad = [m for m in modalities if m not in _SOP]
    if bad or not modalities:
        raise ValueError(f"modalities must be drawn from {sorted(_SOP)}, got {modalities!r}")
    rng = random.Random(seed)
    uid = _Uids(rng)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    manifest = CorpusManifest(root, [], [], [], [], [], [], [])
    institution = rng.choice(_INSTITUTIONS)
    file_no = 0
    for p in range(n_patients):
        sex = rng.choice(["M", "F", "F", "M", "O"])
        birth = _dt.date(1930, 1, 1) + _dt.timedelta(days=rng.randint(0, 365 * 85))
        patient = PlantedPatient(
            name=_person(rng),
            patient_id=f"MRN{rng.randint(10**6, 10**7 - 1)}",
            birth_date=birth.strftime("%Y%m%d"),
            sex=sex,
            age="",
            weight=round(rng.uniform(45, 120), 1),
            size=round(rng.uniform(1.50, 1.98), 2),
            ethnic_group=rng.choice(_ETHNIC),
            address=f"{rng.randint(1, 200)} {rng.choice(_STREETS)}, {rng.choice(_CITIES)}",
            phone=f"+44 {rng.randint(1000, 9999)} {rng.randint(100000, 999999)}",
            other_id=f"NHS{rng.randint(10**8, 10**9 - 1)}",
        )
        manifest.patients.append(patient)
        referring = _person(rng)
        manifest.physicians.append(referring)
        first_study = _dt.date(2015, 1, 1) + _dt.timedelta(days=rng.randint(0, 2000))
        for s in range(studies_per_patient):
            study_date = first_study + _dt.timedelta(days=rng.randint(30, 400) * s)
            age_years = (study_date - birth).days // 365
            patient.age = f"{age_years:03d}Y"
            patient.study_dates.append(study_date.strftime("%Y%m%d"))
            study_uid = uid()
            manifest.study_uids.append(study_uid)
            accession = f"ACC{rng.randint(10**7, 10**8 - 1)}"
            manifest.accession_numbers.append(accession)
            modality = rng.choice(modalities)
            performing = _person(rng)
            operator = _person(rng)
            manifest.physicians.extend([performing, operator])
            for se in range(series_per_study):
                series_uid = uid()
                manifest.series_uids.append(series_uid)
                frame_uid = uid()
                first_sop = ""
                for im in range(images_per_series):
                    sop_uid = uid()
                    manifest.sop_uids.append(sop_uid)
                    if not first_sop:
                        first_sop = sop_uid
                    ds = Dataset()
                    ds.SpecificCharacterSet = "ISO_IR 100"
                    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
                    ds.SOPClassUID = UID(_SOP[modality])
                    ds.SOPInstanceUID = sop_uid
                    day = study_date.strftime("%Y%m%d")
                    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = day
                    ds.InstanceCreationDate = day
                    hh = rng.randint(7, 18)
                    ds.StudyTime = f"{hh:02d}{rng.randint(0, 59):02d}00"
                    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = ds.StudyTime
                    ds.AcquisitionDateTime = f"{day}{ds.StudyTime}.000000+0000"
                    ds.AccessionNumber = accession
                    ds.Modality = modality
                    ds.Manufacturer = "MEDANON SYNTHETIC"
                    ds.InstitutionName = institution
                    ds.InstitutionAddress = f"1 INFIRMARY STREET, {rng.choice(_CITIES)}"
                    ds.InstitutionalDepartmentName = "RADIOLOGY"
                    ds.ReferringPhysicianName = referring
                    ds.StationName = f"STN{rng.randint(100, 999)}"
                    ds.StudyDescription = f"{_DESCRIPTIONS.get(modality, modality)} {patient.name}"
                    ds.SeriesDescription = f"SERIES {se + 1}"
                    ds.PerformingPhysicianName = performing
                    ds.NameOfPhysiciansReadingStudy = referring
                    ds.OperatorsName = operator
                    ds.ManufacturerModelName = "SYNTH-1"
                    ds.PatientName = patient.name
                    ds.PatientID = patient.patient_id
                    ds.IssuerOfPatientID = "ST SWITHIN MRN"
                    ds.PatientBirthDate = patient.birth_date
                    ds.PatientSex = patient.sex
                    ds.PatientAge = patient.age
                    ds.PatientSize = f"{patient.size:.2f}"
                    ds.PatientWeight = f"{patient.weight:.1f}"
                    ds.PatientAddress = patient.address
                    ds.PatientTelephoneNumbers = patient.phone
                    ds.EthnicGroup = patient.ethnic_group
                    ds.OtherPatientIDs = patient.other_id
                    other = Dataset()
                    other.PatientID = patient.other_id
                    other.IssuerOfPatientID = "NHS"
                    other.TypeOfPatientID = "TEXT"
                    ds.OtherPatientIDsSequence = Sequence([other])
                    ds.AdditionalPatientHistory = f"referred by {referring.replace('^', ' ')}"
                    ds.ImageComments = f"patient {patient.patient_id}"
                    ds.DeviceSerialNumber = f"SN{rng.randint(10**5, 10**6)}"
                    ds.StudyInstanceUID = study_uid
                    ds.SeriesInstanceUID = series_uid
                    ds.StudyID = f"S{rng.randint(1000, 9999)}"
                    ds.SeriesNumber = se + 1
                    ds.InstanceNumber = im + 1
                    ds.FrameOfReferenceUID = frame_uid
                    req = Dataset()
                    req.RequestedProcedureID = f"RP{rng.randint(10**5, 10**6)}"
                    req.ScheduledProcedureStepID = f"SPS{rng.randint(10**5, 10**6)}"
                    req.RequestedProcedureDescription = f"{modality} for {patient.name}"
                    req.StudyInstanceUID = study_uid
                    ds.RequestAttributesSequence = Sequence([req])
                    ref_study = Dataset()
                    ref_study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
                    ref_study.ReferencedSOPInstanceUID = study_uid
                    ds.ReferencedStudySequence = Sequence([ref_study])
                    if im > 0:
                        ref = Dataset()
                        ref.ReferencedSOPClassUID = _SOP[modality]
                        ref.ReferencedSOPInstanceUID = first_sop
                        ds.ReferencedImageSequence = Sequence([ref])
                        src_img = Dataset()
                        src_img.ReferencedSOPClassUID = _SOP[modality]
                        src_img.ReferencedSOPInstanceUID = first_sop
                        ds.SourceImageSequence = Sequence([src_img])
                    code = Dataset()
                    code.CodeValue = "RPID17"
                    code.CodingSchemeDesignator = "RADLEX"
                    code.CodeMeaning = _DESCRIPTIONS.get(modality, modality)
                    ds.ProcedureCodeSequence = Sequence([code])
                    block = ds.private_block(0x0009, "MEDANON SYNTH", create=True)
                    block.add_new(0x10, "LO", patient.name.replace("^", " "))
                    block.add_new(0x11, "DA", patient.birth_date)
                    block.add_new(0x12, "UI", study_uid)
                    arr, bits = _pixels(rows, cols, modality, seed * 100003 + file_no)
                    if burned_in_text and modality in ("US", "SC"):
                        arr = _draw_text(arr, f"{patient.name} {patient.patient_id}")
                    ds.SamplesPerPixel = 1
                    ds.PhotometricInterpretation = "MONOCHROME2"
                    ds.Rows, ds.Columns = rows, cols
                    ds.BitsAllocated = bits
                    ds.BitsStored = bits if bits == 8 else 12
                    ds.HighBit = ds.BitsStored - 1
                    ds.PixelRepresentation = 0
                    ds.PixelSpacing = [0.5, 0.5]
                    ds.PixelData = arr.tobytes()
                    meta = FileMetaDataset()
                    meta.MediaStorageSOPClassUID = ds.SOPClassUID
                    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
                    meta.TransferSyntaxUID = ExplicitVRLittleEndian
                    meta.ImplementationClassUID = UID(f"{_ORG_ROOT}.1")
                    meta.ImplementationVersionName = "MEDANON_SYN"
                    meta.SourceApplicationEntityTitle = f"AE{institution[:8].replace(' ', '')}"
                    ds.file_meta = meta
                    rel = Path(f"P{p + 1:03d}", f"ST{s + 1:02d}", f"SE{se + 1:02d}",
                               f"IM{im + 1:04d}" + (".dcm" if file_no % 2 == 0 else ""))
                    path = root / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    ds.save_as(path, enforce_file_format=True)
                    manifest.files.append(path)
                    file_no += 1
    return manifest
