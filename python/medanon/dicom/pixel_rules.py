"""Fixed-region pixel rules: rectangles always masked for a kind of image.

Like RSNA CTP's ``DicomPixelAnonymizer.script``, a rule matches images by
(0008,0060) Modality, (0008,0070) Manufacturer, (0008,1090)
ManufacturerModelName and (0028,0010) Rows x (0028,0011) Columns, and names
the rectangles to blank.  The project's starter rules ship as
``pixel_rules.json`` beside this module; users add theirs with a file of the
same schema (``Policy.pixel_rules``), checked here with errors that name the
bad entry.

Schema::

    {"version": 1,
     "rules": [
       {"name": "US 600x800 top banner",
        "match": {"Modality": "US", "Manufacturer": "philips",
                  "ManufacturerModelName": "", "Rows": 600, "Columns": 800},
        "regions": [[0, 0, 800, 60]]}]}

``Modality`` matches exactly, ``Manufacturer`` and ``ManufacturerModelName``
match as case-insensitive substrings, ``Rows``/``Columns`` exactly; a key
left out (or empty) matches anything.  A region is ``[x, y, width, height]``
in pixels; it is clipped to the image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["PixelRule", "PixelRuleError", "default_rules_path", "load_rules", "match_regions"]

_STR_KEYS = ("Modality", "Manufacturer", "ManufacturerModelName")
_INT_KEYS = ("Rows", "Columns")


class PixelRuleError(ValueError):
    """A pixel rules file is malformed; the message names the bad entry."""


@dataclass(frozen=True)
class PixelRule:
    """One fixed-region rule (see the module docstring for the schema)."""

    name: str
    modality: str = ""
    manufacturer: str = ""
    model: str = ""
    rows: int | None = None
    columns: int | None = None
    regions: tuple[tuple[int, int, int, int], ...] = ()

    def matches(self, ds: Any) -> bool:
        """True when the dataset's attributes satisfy every key of the rule."""
        if (
            self.modality
            and str(getattr(ds, "Modality", "")).strip().upper() != self.modality.upper()
        ):
            return False
        if (
            self.manufacturer
            and self.manufacturer.lower() not in str(getattr(ds, "Manufacturer", "")).lower()
        ):
            return False
        if (
            self.model
            and self.model.lower() not in str(getattr(ds, "ManufacturerModelName", "")).lower()
        ):
            return False
        if self.rows is not None and int(getattr(ds, "Rows", -1)) != self.rows:
            return False
        return not (self.columns is not None and int(getattr(ds, "Columns", -1)) != self.columns)


def default_rules_path() -> Path:
    """Path of the starter rules shipped with medanon."""
    return Path(__file__).with_name("pixel_rules.json")


def _parse(doc: Any, source: str) -> tuple[PixelRule, ...]:
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise PixelRuleError(f"{source}: expected an object with a 'rules' list")
    if doc.get("version", 1) != 1:
        raise PixelRuleError(f"{source}: unsupported version {doc.get('version')!r} (expected 1)")
    out = []
    for i, r in enumerate(doc["rules"]):
        where = f"{source}: rules[{i}]"
        if not isinstance(r, dict):
            raise PixelRuleError(f"{where}: expected an object")
        name = r.get("name", f"rule {i}")
        if not isinstance(name, str):
            raise PixelRuleError(f"{where}: 'name' must be a string")
        where = f"{source}: rules[{i}] ({name})"
        unknown = set(r) - {"name", "match", "regions", "comment"}
        if unknown:
            raise PixelRuleError(f"{where}: unknown keys {sorted(unknown)}")
        match = r.get("match", {})
        if not isinstance(match, dict):
            raise PixelRuleError(f"{where}: 'match' must be an object")
        bad = set(match) - set(_STR_KEYS) - set(_INT_KEYS)
        if bad:
            raise PixelRuleError(
                f"{where}: unknown match keys {sorted(bad)}; allowed {list(_STR_KEYS + _INT_KEYS)}"
            )
        for k in _STR_KEYS:
            if k in match and not isinstance(match[k], str):
                raise PixelRuleError(f"{where}: match.{k} must be a string")
        for k in _INT_KEYS:
            v = match.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
                raise PixelRuleError(f"{where}: match.{k} must be a positive integer")
        regions = r.get("regions")
        if not isinstance(regions, list) or not regions:
            raise PixelRuleError(f"{where}: 'regions' must be a non-empty list of [x, y, w, h]")
        regs = []
        for j, reg in enumerate(regions):
            if (
                not isinstance(reg, list)
                or len(reg) != 4
                or any(isinstance(v, bool) or not isinstance(v, int) for v in reg)
                or reg[0] < 0
                or reg[1] < 0
                or reg[2] <= 0
                or reg[3] <= 0
            ):
                raise PixelRuleError(
                    f"{where}: regions[{j}] must be [x, y, w, h] integers, x, y >= 0, w, h > 0"
                )
            regs.append((reg[0], reg[1], reg[2], reg[3]))
        out.append(
            PixelRule(
                name=name,
                modality=match.get("Modality", ""),
                manufacturer=match.get("Manufacturer", ""),
                model=match.get("ManufacturerModelName", ""),
                rows=match.get("Rows"),
                columns=match.get("Columns"),
                regions=tuple(regs),
            )
        )
    return tuple(out)


@lru_cache(maxsize=16)
def _load_cached(path: str, mtime_ns: int) -> tuple[PixelRule, ...]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise PixelRuleError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return _parse(doc, path)


def load_rules(path: Path | str | None = None) -> tuple[PixelRule, ...]:
    """Load and validate a rules file; the starter rules when `path` is None.

    Parameters
    ----------
    path : path-like, optional

    Returns
    -------
    tuple of PixelRule

    Raises
    ------
    PixelRuleError
        The file is missing, not JSON, or an entry is malformed (named).

    Examples
    --------
    >>> rules = load_rules()
    >>> all(r.regions for r in rules)
    True
    """
    p = Path(path) if path is not None else default_rules_path()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        raise PixelRuleError(f"{p}: pixel rules file not found") from None
    return _load_cached(str(p), mtime)


def match_regions(ds: Any, rules: tuple[PixelRule, ...]) -> list[tuple[int, int, int, int]]:
    """Regions of every rule matching `ds`, clipped to its Rows x Columns.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset(); ds.Modality = "US"; ds.Rows = 600; ds.Columns = 800
    >>> len(match_regions(ds, load_rules())) >= 1
    True
    """
    rows, cols = int(getattr(ds, "Rows", 0)), int(getattr(ds, "Columns", 0))
    out = []
    for rule in rules:
        if rule.matches(ds):
            for x, y, w, h in rule.regions:
                x2, y2 = min(x + w, cols), min(y + h, rows)
                if x2 > x and y2 > y:
                    out.append((x, y, x2 - x, y2 - y))
    return out
