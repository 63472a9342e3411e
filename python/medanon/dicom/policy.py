"""The de-identification policy: which PS3.15 Annex E options apply.

A :class:`Policy` is a frozen (hashable, picklable) value object. It maps
onto the Basic Application Level Confidentiality Profile and its options
(PS3.15 E.3) and onto their CID 7050 codes, and it resolves the action of
every row of Table E.1-1 once (:func:`resolve_action`).

Conflict rule (documented, deterministic)
-----------------------------------------
For one attribute, the actions of the *enabled* options that list it are
collected; when there is at least one, the **most retaining** of them wins
(``K`` beats ``C``), and any option action beats the basic profile action.
When none applies, the basic profile action is used. Consequently, when
both date options are enabled, Retain Longitudinal Temporal Information
with Full Dates (``K``) beats Modified Dates (``C``), and only the full-date
option is recorded as applied.

"Clean" is implemented conservatively: a *text* attribute whose action is
``C`` is cleaned by **removal** (or zero length / dummy when the basic
action does not allow removal); descriptors are never kept as free text.
``C`` on a date/time shifts it (Modified Dates), ``C`` on a sequence keeps
the sequence and cleans every item with the same rules.

References
----------
DICOM PS3.15 Annex E (E.1, E.3), Table E.1-1; PS3.16 CID 7050.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

from medanon.dicom.profile import Row

__all__ = [
    "CID7050",
    "OPTION_FIELDS",
    "Policy",
    "resolve_action",
]

#: CID 7050 "De-identification Method" codes (scheme DCM), PS3.16.
CID7050: dict[str, tuple[str, str]] = {
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "clean_pixels": ("113101", "Clean Pixel Data Option"),
    "clean_visual": ("113102", "Clean Recognizable Visual Features Option"),
    "clean_graphics": ("113103", "Clean Graphics Option"),
    "clean_structured_content": ("113104", "Clean Structured Content Option"),
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
    "retain_long_full_dates": (
        "113106",
        "Retain Longitudinal Temporal Information Full Dates Option",
    ),
    "retain_long_modified_dates": (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "retain_device_identity": ("113109", "Retain Device Identity Option"),
    "retain_uids": ("113110", "Retain UIDs Option"),
    "retain_safe_private": ("113111", "Retain Safe Private Option"),
    "retain_institution_identity": ("113112", "Retain Institution Identity Option"),
}

#: Policy field -> Table E.1-1 option column.
OPTION_FIELDS: dict[str, str] = {
    "retain_long_modified_dates": "rtnLongModifDatesOpt",
    "retain_long_full_dates": "rtnLongFullDatesOpt",
    "retain_uids": "rtnUIDsOpt",
    "retain_device_identity": "rtnDevIdOpt",
    "retain_institution_identity": "rtnInstIdOpt",
    "retain_patient_characteristics": "rtnPatCharsOpt",
    "retain_safe_private": "rtnSafePrivOpt",
    "clean_descriptors": "cleanDescOpt",
    "clean_structured_content": "cleanStructContOpt",
    "clean_graphics": "cleanGraphOpt",
}

_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
_RETAIN_RANK = {"K": 2, "C": 1}


@dataclass(frozen=True)
class Policy:
    """What the DICOM de-identification keeps, cleans and removes.

    Parameters
    ----------
    retain_long_modified_dates : bool
        Shift dates by a keyed per-patient offset (whole days) instead of
        removing them (Retain Longitudinal Temporal Information Modified
        Dates Option, 113107).
    retain_long_full_dates : bool
        Keep dates unchanged (113106); beats ``retain_long_modified_dates``.
    retain_uids : bool
        Keep original UIDs (113110) instead of keyed ``2.25`` UIDs.
    retain_device_identity, retain_institution_identity : bool
        Keep device (113109) / institution (113112) attributes.
    retain_patient_characteristics : bool
        Keep sex, age, weight, size, ethnic group... (113108).
    retain_safe_private : bool
        Keep private attributes known to be safe (113111). medanon ships no
        list of safe private attributes yet, so with ``remove_private`` all
        private attributes are removed anyway (documented, conservative).
    clean_descriptors, clean_structured_content, clean_graphics : bool
        Clean descriptors (113105), structured content (113104) and
        graphics (113103). Cleaning text means *removing* it.
    remove_private : bool
        Remove private attributes (the default). ``False`` keeps them
        untouched, which is **not** conformant with PS3.15 and is recorded
        in DeidentificationMethod.
    burned_in : {"auto", "all", "off"}
        Burned-in text step (:mod:`medanon.dicom.pixels`).
    pixel_rules : Path or None
        Rule file for the pixel step.
    allow_undecodable_pixels : bool
        Write files whose pixels cannot be decoded (and so not scanned).
    review_dir : Path or None
        Where the pixel step writes images for review.
    pseudonym_prefix : str
        Prefix of pseudonymous names and IDs: 1-8 characters, upper-case
        letters, digits or ``_``, starting with a letter (valid in every
        text VR including CS).
    max_date_shift_days : int
        Dates move back by 1..``max_date_shift_days`` whole days (1-36500).

    Examples
    --------
    >>> from medanon.dicom.policy import Policy
    >>> p = Policy(retain_uids=True)
    >>> [code for code, _ in p.method_codes()][:2]
    ['113100', '113103']

    References
    ----------
    DICOM PS3.15 E.1.1 and E.3; PS3.16 CID 7050.
    """

    retain_long_modified_dates: bool = True
    retain_long_full_dates: bool = False
    retain_uids: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_patient_characteristics: bool = False
    retain_safe_private: bool = False
    clean_descriptors: bool = True
    clean_structured_content: bool = True
    clean_graphics: bool = True
    remove_private: bool = True
    burned_in: Literal["auto", "all", "off"] = "auto"
    pixel_rules: Path | None = None
    allow_undecodable_pixels: bool = False
    review_dir: Path | None = None
    pseudonym_prefix: str = "ANON"
    max_date_shift_days: int = 3650

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("bool",) and not isinstance(value, bool):
                raise TypeError(f"Policy.{f.name} must be a bool, got {type(value).__name__}")
        if self.burned_in not in ("auto", "all", "off"):
            raise ValueError(
                f"Policy.burned_in must be 'auto', 'all' or 'off', got {self.burned_in!r}"
            )
        for name in ("pixel_rules", "review_dir"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, str | Path):
                    raise TypeError(f"Policy.{name} must be a path or None")
                object.__setattr__(self, name, Path(value))
        if not isinstance(self.pseudonym_prefix, str) or not _PREFIX.match(self.pseudonym_prefix):
            raise ValueError(
                "Policy.pseudonym_prefix must be 1-8 characters A-Z, 0-9 or _, "
                f"starting with a letter; got {self.pseudonym_prefix!r}"
            )
        days = self.max_date_shift_days
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 36500:
            raise ValueError(
                f"Policy.max_date_shift_days must be an int in 1..36500, got {days!r}"
            )

    # ------------------------------------------------------------------
    @property
    def dates_mode(self) -> Literal["keep", "shift", "remove"]:
        """How dates are treated: ``keep`` (full dates), ``shift`` or ``remove``."""
        if self.retain_long_full_dates:
            return "keep"
        if self.retain_long_modified_dates:
            return "shift"
        return "remove"

    def enabled_options(self) -> tuple[str, ...]:
        """Policy fields of the options in effect, after the conflict rule.

        Modified dates is dropped when full dates is enabled; safe private is
        dropped when no private attribute can be kept (see class docs).
        """
        out = []
        for name in OPTION_FIELDS:
            if not getattr(self, name):
                continue
            if name == "retain_long_modified_dates" and self.retain_long_full_dates:
                continue
            if name == "retain_safe_private" and self.remove_private:
                continue
            out.append(name)
        return tuple(out)

    def enabled_columns(self) -> frozenset[str]:
        """Table E.1-1 option columns in effect."""
        return frozenset(OPTION_FIELDS[n] for n in self.enabled_options())

    def method_codes(self) -> list[tuple[str, str]]:
        """CID 7050 ``(code, meaning)`` pairs for the header profile applied.

        The Clean Pixel Data code (113101) is added by the pipeline only when
        the pixels were actually scanned.
        """
        codes = [CID7050["basic"]]
        order = sorted(self.enabled_options(), key=lambda n: CID7050[n][0])
        codes.extend(CID7050[n] for n in order)
        return codes

    def method_text(self) -> list[str]:
        """DeidentificationMethod values (LO, each <= 64 characters)."""
        text = ["medanon PS3.15 E.1 Basic Profile"]
        text.extend(CID7050[n][1][:64] for n in self.enabled_options())
        if not self.remove_private:
            text.append("private attributes kept (not conformant)")
        return text

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable form (paths as strings)."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


def resolve_action(row: Row, enabled_columns: frozenset[str]) -> str:
    """The action of one Table E.1-1 row under the enabled option columns.

    Parameters
    ----------
    row : Row
        ``(name, basic_action, ((column, action), ...))`` from
        :mod:`medanon.dicom.profile`.
    enabled_columns : frozenset of str
        Option columns in effect (:meth:`Policy.enabled_columns`).

    Returns
    -------
    str
        The option action (most retaining enabled one: ``K`` over ``C``) if
        any enabled option lists the row, else the basic action, which may be
        compound (``X/Z``, ``X/D``, ``Z/D``, ``X/Z/D``, ``X/Z/U*``).

    Examples
    --------
    >>> resolve_action(("Study Date", "Z", (("rtnLongModifDatesOpt", "C"),)),
    ...                frozenset({"rtnLongModifDatesOpt"}))
    'C'

    References
    ----------
    DICOM PS3.15 E.1.1, Table E.1-1.
    """
    best: str | None = None
    for column, action in row[2]:
        if column in enabled_columns and (
            best is None or _RETAIN_RANK[action] > _RETAIN_RANK[best]
        ):
            best = action
    return best if best is not None else row[1]
