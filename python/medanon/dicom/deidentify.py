"""Dataset-level de-identification: the PS3.15 Annex E header profile.

:func:`deidentify` returns a **new** :class:`~pydicom.dataset.Dataset`
(the caller's is never modified), recursing into every sequence item and
rewriting the file meta information.

Rules (in order, for every element at every depth)
--------------------------------------------------
1. ``PatientName`` and ``PatientID`` at the top level become keyed
   pseudonyms (``<prefix>^<token>``, ``<prefix>-<token>``); in nested items
   PatientName is emptied and PatientID pseudonymised from its own value.
2. Private elements (odd groups) are removed unless ``remove_private`` is
   false. medanon knows no safe private attribute yet, so Retain Safe
   Private keeps nothing more (documented, conservative).
3. Rows of Table E.1-1 (exact tags, then the ``(50xx,xxxx)``,
   ``(60xx,3000)``, ``(60xx,4000)`` ranges) take the action resolved by
   :func:`medanon.dicom.policy.resolve_action`. Compound actions resolve to
   the one that keeps any IOD valid, since the IOD type of an attribute is
   not known here: ``X/Z``->``Z``, ``X/D``, ``Z/D``, ``X/Z/D``->``D``,
   ``X/Z/U*``->``U``. ``D`` writes a VR-valid dummy; ``C`` shifts dates
   (DA, DT; TM is kept, since shifts are whole days), cleans sequences
   item by item, and removes text (clean by removal).
4. Every UI value anywhere is replaced by a keyed ``2.25`` UID unless it is
   a standard DICOM UID (:func:`~medanon.dicom.pseudonym.is_standard_uid`)
   or the Retain UIDs option applies.
5. Attributes not in the table (PS3.15 E.3: remove unless known safe):
   sequences are kept and cleaned; DA/DT are shifted (or kept / removed,
   following the date options); TM kept unless dates are removed; numbers,
   binary data and CS are kept; free text (PN, LO, SH, LT, ST, UT, UC,
   UR, AE) and UN are **removed** unless the keyword is in
   :data:`SAFE_TEXT_KEYWORDS` (codes, manufacturer, image description);
   group lengths are dropped.
6. Any kept value that is not valid for its VR is removed (strict writing).

References
----------
DICOM PS3.15 Annex E (E.1.1, E.3), Table E.1-1; PS3.5 6.2 (VRs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from pydicom import config as _pdconfig
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import UID as PydicomUID
from pydicom.uid import ExplicitVRLittleEndian

from medanon.dicom import profile as _profile
from medanon.dicom.policy import CID7050, Policy, resolve_action
from medanon.dicom.pseudonym import Pseudonymizer, coerce_key, shift_da, shift_dt

__all__ = [
    "SAFE_TEXT_KEYWORDS",
    "DeidStats",
    "add_method_code",
    "deidentify",
    "deidentify_with_stats",
    "patient_key",
    "patient_token",
    "vr_problems",
]

# Final actions
KEEP, REMOVE, EMPTY, DUMMY, UID, SHIFT, RECURSE = range(7)

_IGNORE = _pdconfig.IGNORE

#: Free-text public attributes that describe the image, never the patient,
#: and are kept when the table does not list them.
SAFE_TEXT_KEYWORDS: frozenset[str] = frozenset(
    {
        "CodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "CodeMeaning",
        "LongCodeValue", "URNCodeValue", "MappingResource", "ContextIdentifier",
        "MappingResourceName", "ContextGroupExtensionFlag",
        "Manufacturer", "ManufacturerModelName", "SoftwareVersions",
        "SequenceName", "PulseSequenceName", "ConvolutionKernel", "FilterType",
        "ReceiveCoilName", "TransmitCoilName", "WindowCenterWidthExplanation",
        "RescaleType", "LUTExplanation", "ModalityLUTType", "ContrastBolusRoute",
        "ImplementationVersionName", "PixelSpacingCalibrationDescription",
        "AcquisitionContrast", "ScanOptions", "ImagedNucleus", "MRAcquisitionType",
        "CodeLabel", "ContentLabel", "ContentDescription", "GraphicLayer",
        "PresentationLUTShape", "RelationshipType", "ValueType",
        "ConceptNameCodeSequence", "MeasurementUnitsCodeSequence",
        "LossyImageCompressionMethod", "PixelDataProviderURL",
        "TableType", "RotationDirection", "ExposureModulationType",
        "ProtocolDefinedPatientPosition", "FrameType", "VolumetricProperties",
        "TransducerData", "ProcessingFunction", "ImageFilter", "ViewName",
    }
)

_TEXT_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM",
     "UC", "UI", "UR", "UT"}
)
_FREE_TEXT_VRS = frozenset({"PN", "LO", "SH", "LT", "ST", "UT", "UC", "UR", "AE"})
_BINARY_SIZES = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "FD": 8, "AT": 4,
                 "SV": 8, "UV": 8, "OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_MAX_LEN = {"AE": 16, "AS": 4, "CS": 16, "DA": 18, "DS": 16, "DT": 54, "IS": 12,
            "LO": 64, "LT": 10240, "PN": 64, "SH": 16, "ST": 1024, "TM": 28, "UI": 64}

_PATIENT_NAME = 0x00100010
_PATIENT_ID = 0x00100020
_SPECIFIC_CHARSET = 0x00080005
_OWN_TAGS = frozenset(
    {
        0x00120062,  # PatientIdentityRemoved
        0x00120063,  # DeidentificationMethod
        0x00120064,  # DeidentificationMethodCodeSequence
        0x00280303,  # LongitudinalTemporalInformationModified
    }
)

# VR validity (PS3.5 6.2), on decoded single values
_RE = {
    "AS": re.compile(r"^\d{3}[DWMY]$"),
    "CS": re.compile(r"^[A-Z0-9_ ]*$"),
    "DS": re.compile(r"^ *[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)? *$"),
    "IS": re.compile(r"^ *[+-]?\d+ *$"),
    "UI": re.compile(r"^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$"),
    "DA": re.compile(r"^\d{8}$"),
    "TM": re.compile(r"^([01]\d|2[0-3])([0-5]\d([0-5]\d|60)?)?(\.\d{1,6})?$"),
    "DT": re.compile(
        r"^\d{4}((0[1-9]|1[0-2])((0[1-9]|[12]\d|3[01])(([01]\d|2[0-3])([0-5]\d([0-5]\d|60)?)?)?)?)?"
        r"(\.\d{1,6})?([+-]\d{4})?$"
    ),
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


def _value_problem(vr: str, text: str) -> str | None:
    """Why one decoded single value is invalid for ``vr`` (None when valid)."""
    limit = _MAX_LEN.get(vr)
    if limit is not None:
        n = len(text.rstrip(" ")) if vr != "UI" else len(text)
        if vr == "PN":
            # 64 characters per component group
            if any(len(g) > 64 for g in text.split("=")):
                return "longer than 64 characters per component group"
        elif n > limit:
            return f"longer than {limit} characters"
    if vr in ("DA", "TM", "DT"):
        stripped = text.strip(" ")
        if not stripped:
            return None
        pattern = _RE[vr]
        if "-" in stripped and vr != "DT":
            parts = stripped.split("-")
            ok = len(parts) == 2 and all(not p or pattern.match(p) for p in parts)
        else:
            ok = bool(pattern.match(stripped)) or (
                vr == "DT" and "-" in stripped and all(
                    not p or pattern.match(p) for p in stripped.split("-", 1)
                )
            )
        if not ok:
            return f"not a valid {vr}"
        if vr == "DA":
            import datetime as _dt

            for p in stripped.split("-"):
                if p:
                    try:
                        _dt.date(int(p[:4]), int(p[4:6]), int(p[6:8]))
                    except ValueError:
                        return "not a valid calendar date"
        return None
    simple: re.Pattern[str] | None = _RE.get(vr)
    if simple is not None:
        t = text if vr == "UI" else text.strip(" ")
        if vr == "UI":
            t = t.rstrip("\0")
        if t and not simple.match(t):
            return f"not a valid {vr}"
        if vr == "IS" and t and not -(2**31) <= int(t) <= 2**31 - 1:
            return "IS out of range"
        return None
    if vr in ("LO", "SH", "PN", "AE") and ("\\" in text and vr != "PN"):
        return "contains a backslash"
    if vr in _FREE_TEXT_VRS and _CONTROL.search(text):
        return "contains control characters"
    return None


def vr_problems(ds: Dataset, *, _path: str = "") -> list[str]:
    """Check every element value against its VR, recursively.

    Returns messages ``"(gggg,eeee) Keyword: reason"`` (never the value).

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.StudyDate = "20240230"
    >>> vr_problems(ds)
    ['(0008,0020) StudyDate: not a valid calendar date']

    References
    ----------
    DICOM PS3.5 6.2 (Value Representation).
    """
    out: list[str] = []
    for tag in list(ds.keys()):
        try:
            elem = ds[tag]
        except Exception as exc:  # a value pydicom cannot decode
            out.append(f"{_path}({tag.group:04X},{tag.element:04X}): {type(exc).__name__}")
            continue
        name = f"{_path}({elem.tag.group:04X},{elem.tag.element:04X}) {elem.keyword or 'private'}"
        vr = elem.VR
        if vr == "SQ":
            for i, item in enumerate(elem.value or []):
                out.extend(vr_problems(item, _path=f"{name}[{i}]."))
            continue
        value = elem.value
        if value is None or value == "" or value == b"":
            continue
        if vr in _BINARY_SIZES and isinstance(value, bytes | bytearray):
            if len(value) % _BINARY_SIZES[vr]:
                out.append(f"{name}: length not a multiple of {_BINARY_SIZES[vr]}")
            continue
        if vr not in _TEXT_VRS:
            continue
        values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
        if vr in ("LT", "ST", "UT", "UR") and len(values) > 1:
            out.append(f"{name}: VR {vr} cannot be multi-valued")
        for v in values:
            text = str(v) if vr not in ("DS", "IS") else (
                getattr(v, "original_string", None) or str(v)
            )
            if vr == "DS" and not getattr(v, "original_string", None):
                text = _format_ds(float(v))
            problem = _value_problem(vr, text)
            if problem:
                out.append(f"{name}: {problem}")
                break
    return out


def _format_ds(x: float) -> str:
    """A DS string of at most 16 characters for ``x``."""
    for digits in range(15, 0, -1):
        s = f"{x:.{digits}g}"
        if len(s) <= 16:
            return s
    return "0"


# ----------------------------------------------------------------------
@dataclass
class DeidStats:
    """Counts from one :func:`deidentify_with_stats` call (no identifiers)."""

    removed: int = 0
    replaced: int = 0
    uids: int = 0
    dates_shifted: int = 0
    invalid_removed: int = 0
    private_removed: int = 0
    shift_days: int = 0
    patient_token: str = ""
    notes: list[str] = field(default_factory=list)


class _Ctx:
    __slots__ = ("days", "engine", "shifted", "stats")

    def __init__(self, engine: _Engine, days: int, stats: DeidStats) -> None:
        self.engine = engine
        self.days = days
        self.shifted = False
        self.stats = stats


def _compound(action: str) -> str:
    if action in ("X/Z",):
        return "Z"
    if action in ("X/D", "Z/D", "X/Z/D"):
        return "D"
    if action == "X/Z/U*":
        return "U"
    return action


def _clean_fallback(basic: str) -> str:
    """Clean-by-removal: the least retaining action the basic profile allows."""
    if "X" in basic:
        return "X"
    if "Z" in basic:
        return "Z"
    return "D"


def _letter_to_final(letter: str, vr: str, policy: Policy, basic: str) -> int:
    if vr == "SQ":
        if letter == "X":
            return REMOVE
        if letter == "Z":
            return EMPTY
        return RECURSE
    if letter == "K":
        return KEEP
    if letter == "X":
        return REMOVE
    if letter == "Z":
        return EMPTY
    if letter == "U":
        return UID if vr == "UI" else REMOVE
    if letter == "D":
        return UID if vr == "UI" else DUMMY
    if letter == "C":
        if vr in ("DA", "DT"):
            return SHIFT
        if vr == "TM":
            return KEEP
        if vr == "UI":
            return UID
        return _letter_to_final(_clean_fallback(basic), vr, policy, basic)
    raise ValueError(f"unknown action {letter!r}")  # pragma: no cover - table is validated


class _Engine:
    """Per (policy, key) compiled state; lives in a per-process cache."""

    def __init__(self, policy: Policy, key: bytes) -> None:
        self.policy = policy
        self.pseudo = Pseudonymizer(key, policy.pseudonym_prefix, policy.max_date_shift_days)
        self.columns = policy.enabled_columns()
        self.cache: dict[tuple[int, str], int] = {}
        self.rows: dict[int, str] = {
            tag: resolve_action(row, self.columns) for tag, row in _profile.EXACT.items()
        }
        self.basic: dict[int, str] = {tag: row[1] for tag, row in _profile.EXACT.items()}
        self.masked = [
            (mask, value, resolve_action(row, self.columns), row[1])
            for mask, value, row in _profile.MASKED
        ]
        self.dates = policy.dates_mode
        self.dummy_text = policy.pseudonym_prefix

    def action(self, tag: int, vr: str) -> int:
        key = (tag, vr)
        a = self.cache.get(key)
        if a is None:
            a = self._compute(tag, vr)
            self.cache[key] = a
        return a

    def _compute(self, tag: int, vr: str) -> int:
        group, elem = tag >> 16, tag & 0xFFFF
        if tag in _OWN_TAGS:
            return REMOVE
        if group & 1:
            return REMOVE if self.policy.remove_private else KEEP
        if elem == 0:
            return REMOVE  # group length
        if group == 0x0002:
            return KEEP
        if tag == _SPECIFIC_CHARSET:
            return KEEP
        if 0x6000 <= group <= 0x601E:
            # overlay data is removed (X; Clean Graphics cleans by removal), so
            # the rest of the overlay group would be an incomplete module
            return REMOVE
        row_action = self.rows.get(tag)
        basic = self.basic.get(tag, "")
        if row_action is None:
            for mask, value, act, b in self.masked:
                if tag & mask == value:
                    row_action, basic = act, b
                    break
        if row_action is not None:
            letter = _compound(row_action)
            final = _letter_to_final(letter, vr, self.policy, basic)
            if final == UID and self.policy.retain_uids:
                return KEEP
            return final
        # not in the table
        if vr == "SQ":
            return RECURSE
        if vr == "UI":
            return KEEP if self.policy.retain_uids else UID
        if vr in ("DA", "DT"):
            return {"keep": KEEP, "shift": SHIFT, "remove": REMOVE}[self.dates]
        if vr == "TM":
            return REMOVE if self.dates == "remove" else KEEP
        if vr == "UN":
            return REMOVE
        if vr in _FREE_TEXT_VRS:
            kw = keyword_for_tag(tag)
            return KEEP if kw in SAFE_TEXT_KEYWORDS else REMOVE
        return KEEP

    # ------------------------------------------------------------------
    def dummy(self, vr: str) -> Any:
        text = self.dummy_text
        return {
            "PN": text, "LO": text, "SH": text, "LT": text, "ST": text, "UT": text,
            "UC": text, "AE": text, "CS": text, "UR": "urn:x:" + text.lower(),
            "DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000D",
            "DS": "0", "IS": "0", "US": 0, "SS": 0, "UL": 0, "SL": 0, "FL": 0.0,
            "FD": 0.0, "SV": 0, "UV": 0, "AT": 0,
        }.get(vr, b"\x00\x00")


def _empty_value(vr: str) -> Any:
    if vr == "SQ":
        return Sequence()
    if vr in _TEXT_VRS:
        return ""
    return None


def _decode(src: Dataset, raw: DataElement | RawDataElement) -> DataElement:
    if isinstance(raw, RawDataElement):
        return convert_raw_data_element(raw, encoding=src._character_set, ds=src)
    return raw


def _strings(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, MultiValue | list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _raw_valid(vr: str, raw: DataElement | RawDataElement, src: Dataset) -> bool:
    """Is a kept value valid for its VR? (cheap checks on the stored form)."""
    value = raw.value
    if value is None:
        return True
    size = _BINARY_SIZES.get(vr)
    if size is not None:
        if isinstance(value, bytes | bytearray):
            return len(value) % size == 0
        return True
    if vr in ("OB", "UN", "SQ") or vr not in _TEXT_VRS:
        return True
    if isinstance(value, bytes | bytearray):
        if vr in ("PN", "LO", "SH", "LT", "ST", "UT", "UC"):
            # character set dependent: only the length of short strings matters
            return vr not in ("SH", "LO") or all(
                len(p) <= _MAX_LEN[vr] * 4 for p in value.split(b"\\")
            )
        try:
            text = value.decode("ascii")
        except UnicodeDecodeError:
            return False
        parts = text.rstrip("\0 ").split("\\") if vr not in ("LT", "ST", "UT", "UR") else [text]
    else:
        parts = _strings(value)
        if vr in ("DS", "IS"):
            seq_values = value if isinstance(value, MultiValue | list | tuple) else [value]
            parts = [getattr(v, "original_string", None) or str(v) for v in seq_values]
    return all(_value_problem(vr, p) is None for p in parts)


def _clean(src: Dataset, ctx: _Ctx, top: bool) -> Dataset:
    engine = ctx.engine
    stats = ctx.stats
    out = Dataset()
    out_dict = out._dict
    for tag in list(src.keys()):
        raw = cast("DataElement | RawDataElement | None", src.get_item(tag))
        if raw is None:
            continue
        itag = int(tag)
        vr: str | None = raw.VR
        if vr is None:
            try:
                vr = dictionary_VR(itag)
            except KeyError:
                vr = "UN"
        if itag in (_PATIENT_NAME, _PATIENT_ID):
            elem = _decode(src, raw)
            if top:
                continue  # set by the caller from the patient key
            if itag == _PATIENT_NAME:
                out_dict[tag] = DataElement(tag, "PN", "", validation_mode=_IGNORE)
            else:
                text = str(elem.value or "").strip()
                value = engine.pseudo.patient_id("id:" + text) if text else ""
                out_dict[tag] = DataElement(tag, "LO", value, validation_mode=_IGNORE)
            stats.replaced += 1
            continue
        action = engine.action(itag, vr)
        if action == KEEP:
            if vr == "SQ":
                action = RECURSE
            elif isinstance(raw, RawDataElement) and (vr in _TEXT_VRS or vr in _BINARY_SIZES):
                if not _raw_valid(vr, raw, src):
                    stats.invalid_removed += 1
                    continue
                out_dict[tag] = raw
                continue
            elif isinstance(raw, RawDataElement):
                out_dict[tag] = raw
                continue
            else:
                if not _raw_valid(vr, raw, src):
                    stats.invalid_removed += 1
                    continue
                kept: Any = raw.value
                if isinstance(kept, MultiValue):
                    kept = list(kept)
                out_dict[tag] = DataElement(tag, vr, kept, validation_mode=_IGNORE)
                continue
        if action == REMOVE:
            if itag >> 16 & 1:
                stats.private_removed += 1
            else:
                stats.removed += 1
            continue
        if action == RECURSE:
            elem = _decode(src, raw)
            items = elem.value or []
            seq = Sequence([_clean(item, ctx, False) for item in items])
            out_dict[tag] = DataElement(tag, "SQ", seq, validation_mode=_IGNORE)
            continue
        if action == EMPTY:
            out_dict[tag] = DataElement(tag, vr, _empty_value(vr), validation_mode=_IGNORE)
            stats.replaced += 1
            continue
        if action == DUMMY:
            out_dict[tag] = DataElement(tag, vr, engine.dummy(vr), validation_mode=_IGNORE)
            stats.replaced += 1
            continue
        elem = _decode(src, raw)
        if action == UID:
            values = _strings(elem.value)
            new = [engine.pseudo.uid(v) for v in values]
            if any(_value_problem("UI", v) for v in new):
                stats.invalid_removed += 1
                continue
            out_dict[tag] = DataElement(
                tag, "UI", new[0] if len(new) == 1 else (new or ""), validation_mode=_IGNORE
            )
            stats.uids += len(new)
            continue
        if action == SHIFT:
            text = "\\".join(_strings(elem.value))
            if not text:
                out_dict[tag] = DataElement(tag, vr, "", validation_mode=_IGNORE)
                continue
            shifted = (shift_da if vr == "DA" else shift_dt)(text, ctx.days)
            if shifted is None:
                stats.invalid_removed += 1
                continue
            parts = shifted.split("\\")
            out_dict[tag] = DataElement(
                tag, vr, parts[0] if len(parts) == 1 else parts, validation_mode=_IGNORE
            )
            stats.dates_shifted += 1
            ctx.shifted = True
            continue
    return out


def patient_key(ds: Dataset) -> str:
    """The string that identifies a patient for pseudonyms and date shifts.

    PatientID when present; else PatientName with PatientBirthDate; else the
    StudyInstanceUID (each study then stands for its own patient).

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientID = " 123 "
    >>> patient_key(ds)
    'id:123'

    References
    ----------
    DICOM PS3.15 E.3.6 (one shift per patient keeps intervals).
    """
    pid = str(ds.get("PatientID", "") or "").strip()
    if pid:
        return "id:" + pid
    name = str(ds.get("PatientName", "") or "").strip()
    if name:
        return "name:" + name.upper() + "|" + str(ds.get("PatientBirthDate", "") or "")
    return "study:" + str(ds.get("StudyInstanceUID", "") or "")


def patient_token(ds: Dataset, key: bytes | str, policy: Policy | None = None) -> str:
    """The pseudonymous PatientID medanon writes for this dataset's patient.

    This is the key of ``characteristics_by_patient`` in
    :func:`medanon.dicom.pipeline.process_file`.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientID = "123"
    >>> patient_token(ds, b"k").startswith("ANON-")
    True

    References
    ----------
    DICOM PS3.15 E.3.
    """
    policy = policy or Policy()
    return _engine(policy, coerce_key(key)).pseudo.patient_id(patient_key(ds))


@lru_cache(maxsize=8)
def _engine(policy: Policy, key: bytes) -> _Engine:
    return _Engine(policy, key)


def _code_item(code: str, meaning: str) -> Dataset:
    item = Dataset()
    d = item._dict
    d[BaseTag(0x00080100)] = DataElement(0x00080100, "SH", code, validation_mode=_IGNORE)
    d[BaseTag(0x00080102)] = DataElement(0x00080102, "SH", "DCM", validation_mode=_IGNORE)
    d[BaseTag(0x00080104)] = DataElement(0x00080104, "LO", meaning, validation_mode=_IGNORE)
    return item


def add_method_code(ds: Dataset, name: str) -> None:
    """Append a CID 7050 code (by option name, e.g. ``"clean_pixels"``) in place.

    Adds it to DeidentificationMethodCodeSequence and DeidentificationMethod
    unless present. Used by the pipeline after the pixel step.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); add_method_code(ds, "clean_pixels")
    >>> ds.DeidentificationMethodCodeSequence[0].CodeValue
    '113101'

    References
    ----------
    DICOM PS3.16 CID 7050; PS3.3 C.7.1.1 (Patient Identification Module).
    """
    code, meaning = CID7050[name]
    seq = ds.get("DeidentificationMethodCodeSequence")
    if seq is None:
        ds.DeidentificationMethodCodeSequence = Sequence()
        seq = ds.DeidentificationMethodCodeSequence
    if any(getattr(item, "CodeValue", None) == code for item in seq):
        return
    seq.append(_code_item(code, meaning))
    methods = ds.get("DeidentificationMethod")
    text = [str(v) for v in (methods if isinstance(methods, MultiValue) else
                            ([methods] if methods else []))]
    text.append(meaning[:64])
    ds.DeidentificationMethod = text if len(text) > 1 else text[0]


_CHAR_VRS = {"AS", "CS", "DS", "IS", "US", "SS", "UL", "SL", "FL", "FD", "LO", "SH", "PN",
             "DA", "TM", "DT", "ST", "LT", "UT", "UC"}


def _characteristic(keyword: str, value: Any) -> DataElement:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ValueError(f"characteristics: unknown DICOM keyword {keyword!r}")
    vr = dictionary_VR(tag)
    if vr not in _CHAR_VRS:
        raise ValueError(f"characteristics: {keyword} has VR {vr}, which is not supported")
    if value is None or value == "":
        return DataElement(tag, vr, _empty_value(vr), validation_mode=_IGNORE)
    if vr == "DS":
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"characteristics: {keyword} needs a number") from None
        if x != x or x in (float("inf"), float("-inf")):
            raise ValueError(f"characteristics: {keyword} must be finite")
        v: Any = _format_ds(x)
    elif vr in ("IS", "US", "SS", "UL", "SL"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"characteristics: {keyword} needs an integer")
        try:
            v = int(value)
        except ValueError:
            raise ValueError(f"characteristics: {keyword} needs an integer") from None
        if vr == "IS":
            v = str(v)
    elif vr in ("FL", "FD"):
        v = float(value)
    else:
        v = str(value)
        if vr == "CS":
            v = v.upper()
    if isinstance(v, str):
        problem = _value_problem(vr, v)
        if problem:
            raise ValueError(f"characteristics: {keyword} ({vr}) {problem}")
    return DataElement(tag, vr, v, validation_mode=_IGNORE)


def deidentify_with_stats(
    ds: Dataset,
    policy: Policy,
    key: bytes | str,
    characteristics: Mapping[str, Any] | None = None,
) -> tuple[Dataset, DeidStats]:
    """Like :func:`deidentify`, also returning :class:`DeidStats`.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientID = "123"; ds.StudyDate = "20240301"
    >>> out, stats = deidentify_with_stats(ds, Policy(), b"k" * 32)
    >>> stats.dates_shifted
    1

    References
    ----------
    DICOM PS3.15 Annex E.
    """
    if not isinstance(ds, Dataset):
        raise TypeError(f"ds must be a pydicom Dataset, got {type(ds).__name__}")
    if not isinstance(policy, Policy):
        raise TypeError(f"policy must be a medanon Policy, got {type(policy).__name__}")
    chars = [_characteristic(k, v) for k, v in (characteristics or {}).items()]
    engine = _engine(policy, coerce_key(key))
    pkey = patient_key(ds)
    stats = DeidStats()
    stats.shift_days = engine.pseudo.shift_days(pkey) if policy.dates_mode == "shift" else 0
    ctx = _Ctx(engine, stats.shift_days, stats)
    out = _clean(ds, ctx, True)
    # patient pseudonyms
    token_id = engine.pseudo.patient_id(pkey)
    stats.patient_token = token_id
    out.PatientName = engine.pseudo.patient_name(pkey)
    out.PatientID = token_id
    for elem in chars:
        out[elem.tag] = elem
    out.PatientIdentityRemoved = "YES"
    codes = policy.method_codes()
    out.DeidentificationMethod = policy.method_text()
    out.DeidentificationMethodCodeSequence = Sequence([_code_item(c, m) for c, m in codes])
    if policy.dates_mode == "keep":
        out.LongitudinalTemporalInformationModified = "UNMODIFIED"
    elif ctx.shifted:
        out.LongitudinalTemporalInformationModified = "MODIFIED"
    else:
        out.LongitudinalTemporalInformationModified = "REMOVED"
    # file meta
    meta = getattr(ds, "file_meta", None)
    new_meta = FileMetaDataset()
    new_meta.FileMetaInformationVersion = b"\x00\x01"
    sop_class = out.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta else None)
    if sop_class:
        new_meta.MediaStorageSOPClassUID = sop_class
    sop_inst = out.get("SOPInstanceUID")
    if sop_inst:
        new_meta.MediaStorageSOPInstanceUID = sop_inst
    elif meta is not None and meta.get("MediaStorageSOPInstanceUID"):
        old = str(meta.MediaStorageSOPInstanceUID)
        new_uid = old if policy.retain_uids else engine.pseudo.uid(old)
        new_meta.MediaStorageSOPInstanceUID = PydicomUID(new_uid)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    new_meta.TransferSyntaxUID = PydicomUID(str(ts)) if ts else ExplicitVRLittleEndian
    if meta is not None:
        for kw in ("ImplementationClassUID", "ImplementationVersionName"):
            if kw in meta:
                value = meta.get(kw)
                vr = "UI" if kw.endswith("UID") else "SH"
                if value and _value_problem(vr, str(value)) is None:
                    setattr(new_meta, kw, value)
    out.file_meta = new_meta
    return out, stats


def deidentify(
    ds: Dataset,
    policy: Policy,
    key: bytes | str,
    characteristics: Mapping[str, Any] | None = None,
) -> Dataset:
    """De-identify one dataset with the PS3.15 Basic Profile and options.

    Parameters
    ----------
    ds : Dataset
        The original; never modified.
    policy : Policy
        Options (:class:`medanon.dicom.policy.Policy`).
    key : bytes or str
        Secret key for UIDs, pseudonyms and date shifts.
    characteristics : mapping, optional
        ``keyword -> value`` applied after the profile (e.g. generalised
        ``PatientAge``, ``PatientSex``, ``PatientWeight`` from the corpus
        k-anonymity step); ``None`` values give empty elements. Values are
        converted to their VR (DS formatted to 16 characters) and a value
        that cannot be made valid raises ``ValueError`` naming the keyword.

    Returns
    -------
    Dataset
        A new dataset with new file meta (MediaStorageSOPInstanceUID
        remapped, ImplementationClassUID kept), PatientIdentityRemoved,
        DeidentificationMethod(CodeSequence) and
        LongitudinalTemporalInformationModified.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "Doe^Jane"; ds.PatientID = "123"
    >>> ds.StudyInstanceUID = "1.2.3.4"
    >>> out = deidentify(ds, Policy(), b"secret-key-32-bytes-long........")
    >>> str(out.PatientName).startswith("ANON^"), out.StudyInstanceUID.startswith("2.25.")
    (True, True)
    >>> str(ds.PatientName)
    'Doe^Jane'

    References
    ----------
    DICOM PS3.15 Annex E (E.1.1 actions, E.3 options), Table E.1-1.
    """
    return deidentify_with_stats(ds, policy, key, characteristics)[0]
