"""Keyed pseudonyms: UIDs, patient names and IDs, per-patient date shifts.

Everything here is a pure function of a secret key and the original value
(HMAC-SHA256 with a domain label per kind), so the same input gives the same
output in every file, process and run that uses the same key, and nothing
can be reversed without the key. The key is never stored in an output.

References
----------
DICOM PS3.15 E.3.9 (Retain UIDs / UID replacement), E.3.6 (Retain
Longitudinal Temporal Information with Modified Dates); PS3.5 9.1 and B.2
(UIDs derived from UUIDs under the ``2.25`` root); PS3.5 6.2 (DA, DT, TM).
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import re
import uuid
from collections.abc import Callable

from pydicom._uid_dict import UID_dictionary

__all__ = [
    "Pseudonymizer",
    "coerce_key",
    "is_standard_uid",
    "shift_da",
    "shift_dt",
]

_STANDARD_ROOT = "1.2.840.10008."
_ShiftFn = Callable[[str, int], "str | None"]
_UID_CACHE_MAX = 200_000


def coerce_key(key: bytes | str) -> bytes:
    """Return the key as bytes (UTF-8 for ``str``), refusing empty keys.

    Examples
    --------
    >>> coerce_key("secret")
    b'secret'

    References
    ----------
    DICOM PS3.15 E.3.9 (consistent replacement needs a persistent secret).
    """
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, bytes | bytearray):
        raise TypeError(f"key must be bytes or str, got {type(key).__name__}")
    if len(key) == 0:
        raise ValueError("key must not be empty")
    return bytes(key)


def is_standard_uid(uid: str) -> bool:
    """True for well-known DICOM UIDs (SOP classes, transfer syntaxes, ...).

    These identify *kinds* of things, never a patient or an instance, and are
    kept. A UID is standard when it is in pydicom's UID dictionary or under
    the DICOM root ``1.2.840.10008.``.

    Examples
    --------
    >>> is_standard_uid("1.2.840.10008.5.1.4.1.1.2")
    True
    >>> is_standard_uid("1.2.3.4")
    False

    References
    ----------
    DICOM PS3.6 Annex A (Registry of DICOM Unique Identifiers).
    """
    return uid.startswith(_STANDARD_ROOT) or uid in UID_dictionary


class Pseudonymizer:
    """Keyed replacement values, with caches (one per process and key).

    Parameters
    ----------
    key : bytes or str
        Secret key (never written anywhere).
    prefix : str
        Prefix of pseudonymous names and IDs.
    max_shift_days : int
        Dates move back by 1..max_shift_days whole days.

    Examples
    --------
    >>> p = Pseudonymizer(b"k" * 32)
    >>> u = p.uid("1.2.3.4")
    >>> u.startswith("2.25.") and u == p.uid("1.2.3.4") and len(u) <= 64
    True
    >>> p.patient_id("12345").startswith("ANON-")
    True
    >>> 1 <= -p.shift_days("12345") <= 3650
    True

    References
    ----------
    DICOM PS3.15 E.3.6, E.3.9; PS3.5 B.2.
    """

    __slots__ = ("_h_patient", "_h_shift", "_h_uid", "_uid_cache", "max_shift_days", "prefix")

    def __init__(self, key: bytes | str, prefix: str = "ANON", max_shift_days: int = 3650):
        raw = coerce_key(key)
        self._h_uid = hmac.new(raw, b"medanon:uid\0", hashlib.sha256)
        self._h_patient = hmac.new(raw, b"medanon:patient\0", hashlib.sha256)
        self._h_shift = hmac.new(raw, b"medanon:shift\0", hashlib.sha256)
        self._uid_cache: dict[str, str] = {}
        self.prefix = prefix
        self.max_shift_days = max_shift_days

    def uid(self, uid: str) -> str:
        """Keyed ``2.25.<int>`` UID for a non-standard UID (standard ones kept).

        The integer is a version-4-shaped UUID made from the first 16 bytes of
        HMAC-SHA256(key, uid): at most 44 characters, no leading zeros.
        """
        uid = uid.strip("\0 ")
        if not uid or is_standard_uid(uid):
            return uid
        cached = self._uid_cache.get(uid)
        if cached is not None:
            return cached
        h = self._h_uid.copy()
        h.update(uid.encode("ascii", "replace"))
        new = "2.25." + str(uuid.UUID(bytes=h.digest()[:16], version=4).int)
        if len(self._uid_cache) > _UID_CACHE_MAX:
            self._uid_cache.clear()
        self._uid_cache[uid] = new
        return new

    def token(self, patient_key: str) -> str:
        """12-character base32 token of a patient key (A-Z, 2-7)."""
        h = self._h_patient.copy()
        h.update(patient_key.encode("utf-8", "replace"))
        return base64.b32encode(h.digest()[:10]).decode("ascii")[:12]

    def patient_id(self, patient_key: str) -> str:
        """Pseudonymous PatientID ``<prefix>-<token>`` (valid LO)."""
        return f"{self.prefix}-{self.token(patient_key)}"

    def patient_name(self, patient_key: str) -> str:
        """Pseudonymous PatientName ``<prefix>^<token>`` (valid PN)."""
        return f"{self.prefix}^{self.token(patient_key)}"

    def shift_days(self, patient_key: str) -> int:
        """Per-patient date offset in whole days, in ``-max_shift_days..-1``."""
        h = self._h_shift.copy()
        h.update(patient_key.encode("utf-8", "replace"))
        n = int.from_bytes(h.digest()[:8], "big")
        return -(1 + n % self.max_shift_days)


# ----------------------------------------------------------------------
# Dates
_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")
_DT = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?$"
)


def _shift_one_da(value: str, days: int) -> str | None:
    m = _DA.match(value)
    if not m:
        return None
    try:
        d = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        s = d + _dt.timedelta(days=days)
        return f"{s.year:04d}{s.month:02d}{s.day:02d}"
    except (ValueError, OverflowError):
        return None


def _shift_one_dt(value: str, days: int) -> str | None:
    m = _DT.match(value)
    if not m:
        return None
    year, month, day = m.group(1), m.group(2), m.group(3)
    try:
        d = _dt.date(int(year), int(month or 1), int(day or 1))
        shifted = d + _dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    ymd = f"{shifted.year:04d}{shifted.month:02d}{shifted.day:02d}"
    head = ymd[: 4 + (2 if month else 0) + (2 if day else 0)]
    return head + value[len(m.group(1)) + len(month or "") + len(day or "") :]


def _shift_range(value: str, days: int, one: _ShiftFn, single: re.Pattern[str]) -> str | None:
    if single.match(value):
        return one(value, days)
    # query-style range "A-B", "-B", "A-": try every hyphen as the separator
    for i, ch in enumerate(value):
        if ch != "-":
            continue
        left, right = value[:i], value[i + 1 :]
        if (not left or single.match(left)) and (not right or single.match(right)):
            if not left and not right:
                return None
            new_left = one(left, days) if left else ""
            new_right = one(right, days) if right else ""
            if new_left is None or new_right is None:
                return None
            return f"{new_left}-{new_right}"
    return None


def _shift_multi(value: str, days: int, one: _ShiftFn, single: re.Pattern[str]) -> str | None:
    parts = []
    for part in value.split("\\"):
        part = part.strip(" \0")
        if not part:
            parts.append("")
            continue
        new = _shift_range(part, days, one, single)
        if new is None:
            return None
        parts.append(new)
    return "\\".join(parts)


def shift_da(value: str, days: int) -> str | None:
    """Shift a DA value (multi-valued, ranges allowed) by whole days.

    Returns ``None`` when the value is not a valid date (the caller removes
    the element). Legacy ``YYYY.MM.DD`` is accepted and written as
    ``YYYYMMDD``.

    Examples
    --------
    >>> shift_da("20240301", -1)
    '20240229'
    >>> shift_da("20240101-20240131", -10)
    '20231222-20240121'
    >>> shift_da("not a date", 3) is None
    True

    References
    ----------
    DICOM PS3.5 6.2 (DA), PS3.4 C.2.2.2.5 (range matching); PS3.15 E.3.6.
    """
    return _shift_multi(value, days, _shift_one_da, _DA)


def shift_dt(value: str, days: int) -> str | None:
    """Shift a DT value by whole days, keeping precision, time and offset.

    Examples
    --------
    >>> shift_dt("20240301120000.5+0100", -1)
    '20240229120000.5+0100'
    >>> shift_dt("2024", -400)
    '2022'

    References
    ----------
    DICOM PS3.5 6.2 (DT); PS3.15 E.3.6.
    """
    return _shift_multi(value, days, _shift_one_dt, _DT)

