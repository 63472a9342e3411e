"""Audit a de-identified folder against its originals.

:func:`audit` collects identifying values from the original files, then
searches every element of every output file (sequences, private elements,
file meta) and the raw bytes of the file for them, and checks that UIDs were
replaced consistently. It reports *where* (tag keyword path) and *what kind*
of identifier was found, never the value.

Which original values count as identifiers
------------------------------------------
* every PN value (whole name, and each name component), kind ``name``;
* every UI value that is not a standard DICOM UID, kind ``uid``;
* the value of every public text attribute (LO, SH, LT, ST, UT, UC, UR, AE,
  AS) that the Basic Profile does not keep (the attribute's action under
  the default :class:`~medanon.dicom.policy.Policy` is not "keep"), kind
  ``id``, ``address``, ``phone``, ``institution`` or ``text``;
* PatientBirthDate (kind ``birth date``) and, with ``dates="all"``, every
  DA value and the date part of every DT value (kind ``date``). Dates are
  searched only in the output paired with their own original (a shifted
  date may coincide with another patient's real date).

Normalisation: upper case; ``^``, ``=`` and runs of white space become one
space; trimmed. A value is ignored when it is shorter than ``min_length``
(4) characters, when it is all digits and shorter than 6, or when the same
normalised value also occurs in the originals as the value of an attribute
that the profile keeps or of a CS attribute (enumerated values and common
terms such as body parts, which would give false hits).

Pairing outputs with originals (for dates and UID consistency) uses the
run report when given (file index -> output path), else a content
fingerprint (Rows, Columns and a hash of the pixel data).

References
----------
DICOM PS3.15 Annex E (E.1, E.3), Table E.1-1.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections import defaultdict
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from medanon.dicom import profile as _profile
from medanon.dicom.deidentify import KEEP, _engine
from medanon.dicom.pipeline import DicomRunReport, iter_candidates
from medanon.dicom.policy import Policy
from medanon.dicom.pseudonym import is_standard_uid

__all__ = ["AuditHit", "AuditReport", "audit"]

_TEXT_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC", "UR", "AE", "AS"})
_SPLIT = re.compile(r"[\^=\s]+")
_PRINTABLE = re.compile(rb"[\x20-\x7e]{4,}")
_AUDIT_KEY = b"medanon-audit-classification-key"
#: Kept on purpose: identifies the writing software, not a patient.
_NOT_IDENTIFYING = frozenset({0x00020012, 0x00020013})
#: Patient characteristics (Retain Patient Characteristics rows): handled by
#: the corpus-level k-anonymity step, not searched as identifiers.
_CHARACTERISTICS = frozenset(tag for tag, row in _profile.EXACT.items() if ("rtnPatCharsOpt", "K") in row[2])


@lru_cache(maxsize=1 << 16)  # the same values recur in every file of a corpus
def _norm(text: str) -> str:
    return _SPLIT.sub(" ", text.upper()).strip()


_OWN_REPORTS = frozenset({"report.html", "report.json"})
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_PIXEL_TAG = b"\xe0\x7f\x10\x00"  # (7FE0,0010) PixelData, little endian


def _header_bytes(raw: bytes) -> bytes:
    """The bytes before the last PixelData tag: pixel values are not text."""
    at = raw.rfind(_PIXEL_TAG)
    return raw if at < 0 else raw[:at]


def _kind_for(keyword: str) -> str:
    k = keyword.lower()
    if "address" in k:
        return "address"
    if "telephone" in k or "phone" in k:
        return "phone"
    if "institution" in k:
        return "institution"
    if k.endswith("id") or k.endswith("ids") or "number" in k or k.endswith("identifier"):
        return "id"
    return "text"


@dataclass
class AuditHit:
    """One identifier found in one output file (no value)."""

    file: str
    location: str
    kind: str


@dataclass
class AuditReport:
    """Result of :func:`audit`."""

    originals: int = 0
    outputs: int = 0
    identifiers: int = 0
    paired: int = 0
    hits: list[AuditHit] = field(default_factory=list)
    uid_problems: list[str] = field(default_factory=list)
    unreadable_outputs: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No identifier found and UIDs consistent."""
        return not self.hits and not self.uid_problems

    def hits_by_kind(self) -> dict[str, int]:
        """Hit counts per identifier kind."""
        out: dict[str, int] = defaultdict(int)
        for h in self.hits:
            out[h.kind] += 1
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "ok": self.ok,
            "originals": self.originals,
            "outputs": self.outputs,
            "identifiers": self.identifiers,
            "paired": self.paired,
            "hits_by_kind": self.hits_by_kind(),
            "hits": [asdict(h) for h in self.hits],
            "uid_problems": self.uid_problems,
            "unreadable_outputs": self.unreadable_outputs,
            "notes": self.notes,
        }

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    def summary(self) -> str:
        """One line for humans (kinds and counts only)."""
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(self.hits_by_kind().items())) or "none"
        return (
            f"audit: {self.outputs} outputs, {len(self.hits)} identifier hits ({kinds}), "
            f"{len(self.uid_problems)} UID problems"
        )


def _read(path: Path) -> Dataset | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = dcmread(path, force=True)
            # A forced read of a non-DICOM file (metadata.csv, report.json...)
            # yields nonsense tags: such files are searched as raw bytes only.
            if not getattr(ds, "preamble", None) and "SOPClassUID" not in ds:
                return None
            for _ in ds.iterall():  # parse every element here, warnings silenced
                pass
            return ds
        except Exception:
            return None


def _walk_elements(ds: Dataset, prefix: str = "") -> Iterator[tuple[str, str, str, Any, int]]:
    """Yield (path, keyword, vr, value, tag) for every element, recursively."""
    meta = getattr(ds, "file_meta", None)
    if prefix == "" and meta is not None:
        yield from _walk_elements(meta, "meta:")
    for tag in list(ds.keys()):
        if tag in _PIXEL_TAGS:  # pixel values, not text (burned-in text is the pixel step's)
            continue
        try:
            elem = ds[tag]
        except Exception:
            continue
        kw = elem.keyword or f"({tag.group:04X},{tag.element:04X})"
        path = prefix + kw
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value or []):
                yield from _walk_elements(item, f"{path}[{i}].")
            continue
        yield path, kw, elem.VR, elem.value, int(tag)


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bytes | bytearray):
        if len(value) > 1024:  # long binary values: their printable runs only
            return [m.decode("ascii") for m in _PRINTABLE.findall(value)]
        return [value.decode("latin-1", "replace")]
    if isinstance(value, MultiValue | list | tuple):
        return [str(v) for v in value]
    return [str(value)]


class _Idents:
    def __init__(self, min_length: int) -> None:
        self.min_length = min_length
        self.values: dict[str, str] = {}  # normalised -> kind
        self.uids: set[str] = set()
        self.safe: set[str] = set()

    def add(self, text: str, kind: str) -> None:
        n = _norm(text)
        if len(n) < self.min_length or (n.isdigit() and len(n) < 6):
            return
        self.values.setdefault(n, kind)

    def finish(self) -> None:
        for s in self.safe:
            self.values.pop(s, None)


def _collect(ds: Dataset, idents: _Idents, engine: Any) -> list[tuple[str, str]]:
    """Add identifiers of one original; return its (normalised date, kind)."""
    dates: list[tuple[str, str]] = []
    for _path, kw, vr, value, tag in _walk_elements(ds):
        private = bool((tag >> 16) & 1)
        if tag in _NOT_IDENTIFYING or tag in _CHARACTERISTICS:
            continue
        for v in _strings(value):
            v = v.strip("\0 ")
            if not v:
                continue
            if vr == "UI":
                # a searchable UID: at least two dots and 8 characters, so that
                # malformed short "UIDs" ("1", "1.2") do not match numbers
                if not is_standard_uid(v) and v.count(".") >= 2 and len(v) >= 8:
                    idents.uids.add(v)
                continue
            if private:
                continue
            if vr == "PN":
                idents.add(v, "name")
                for part in _SPLIT.split(v):
                    idents.add(part, "name")
                continue
            if vr in ("DA", "DT"):
                kind = "birth date" if kw == "PatientBirthDate" else "date"
                for part in v.split("-"):
                    if len(part) >= 8 and part[:8].isdigit():
                        dates.append((part[:8], kind))
                continue
            if vr == "CS":
                idents.safe.add(_norm(v))
                continue
            if vr in _TEXT_VRS and (tag >> 16) != 0x0002:
                if engine.action(tag, vr) == KEEP:
                    idents.safe.add(_norm(v))
                else:
                    idents.add(v, _kind_for(kw))
    return dates


def _fingerprint(ds: Dataset) -> str | None:
    data = ds.get("PixelData")
    if not data:
        return None
    h = hashlib.sha1(bytes(data), usedforsecurity=False).hexdigest()
    return f"{ds.get('Rows')}x{ds.get('Columns')}:{h}"


def _report_pairs(report: DicomRunReport | Mapping[str, Any] | str | os.PathLike[str]) -> dict[int, str]:
    if isinstance(report, DicomRunReport):
        return {r.index: r.output for r in report.results if r.status == "ok"}
    data: Mapping[str, Any] = (
        report if isinstance(report, Mapping) else json.loads(Path(report).read_text(encoding="utf-8"))
    )
    return {int(r["index"]): str(r["output"]) for r in data.get("results", []) if r.get("status") == "ok"}


@dataclass
class _Original:
    """What one original file contributes to the audit."""

    index: int
    values: dict[str, str]
    uids: set[str]
    safe: set[str]
    dates: list[tuple[str, str]]
    uid_paths: list[tuple[str, str]]
    fingerprint: str | None


def _scan_original(index: int, path: str, policy: Policy, min_length: int) -> _Original | None:
    ds = _read(Path(path))
    if ds is None or "SOPClassUID" not in ds:
        return None
    idents = _Idents(min_length)
    dates = _collect(ds, idents, _engine(policy, _AUDIT_KEY))
    uid_paths = [(p, str(v)) for p, _kw, vr, value, _t in _walk_elements(ds) if vr == "UI" for v in _strings(value)]
    return _Original(index, idents.values, idents.uids, idents.safe, dates, uid_paths, _fingerprint(ds))


def _scan_originals(items: list[tuple[int, str]], policy: Policy, min_length: int) -> list[_Original | None]:
    return [_scan_original(i, p, policy, min_length) for i, p in items]


@dataclass
class _Search:
    """Everything the search of one output needs (sent once to each worker)."""

    root: str
    single: dict[str, str]
    uids: set[str]
    safe: set[str]
    dates: str
    pairs: dict[str, int]
    fp_to_index: dict[str, int]
    dates_by_index: dict[int, list[tuple[str, str]]]
    uids_by_index: dict[int, list[tuple[str, str]]]
    _multi: tuple[re.Pattern[str] | None, dict[str, str]] | None = None

    def multi(self) -> tuple[re.Pattern[str] | None, dict[str, str]]:
        """One compiled alternation of the multi-word identifiers, built once per process."""
        if self._multi is None:
            words = sorted((v for v in self.single if " " in v), key=len, reverse=True)
            pattern = re.compile("|".join(re.escape(v) for v in words)) if words else None
            self._multi = (pattern, {v: self.single[v] for v in words})
        return self._multi


@dataclass
class _OutputResult:
    hits: list[AuditHit]
    uid_pairs: list[tuple[str, str]]
    unreadable: int
    paired: int


def _scan_output(out_no: int, path_s: str, ctx: _Search) -> _OutputResult:
    path = Path(path_s)
    label = f"#{out_no}"
    single, uids = ctx.single, ctx.uids
    multi_re, multi_kind = ctx.multi()
    hits: list[AuditHit] = []
    uid_pairs: list[tuple[str, str]] = []
    ds = _read(path)
    try:
        raw = path.read_bytes()
    except OSError:
        raw = b""
    found: set[str] = set()
    idx = ctx.pairs.get(str(path.resolve()))
    if idx is None and ds is not None:
        fp = _fingerprint(ds)
        if fp is not None:
            idx = ctx.fp_to_index.get(fp)
    pair_dates: dict[str, str] = {}
    if idx is not None and ctx.dates != "none":
        for d, date_kind in ctx.dates_by_index.get(idx, []):
            if ctx.dates == "all" or date_kind == "birth date":
                pair_dates.setdefault(d, date_kind)
    # path components
    for part in path.relative_to(ctx.root).parts:
        n = _norm(part.removesuffix(".dcm"))
        if n in single or part.removesuffix(".dcm") in uids:
            hits.append(AuditHit(label, "file path", single.get(n, "uid")))
    kind: str | None
    if ds is not None:
        out_uids: list[tuple[str, str]] = []
        for epath, _kw, vr, value, tag in _walk_elements(ds):
            if tag in _NOT_IDENTIFYING:  # the writing software's identity, kept on purpose
                continue
            for v in _strings(value):
                v = v.strip("\0 ")
                if not v:
                    continue
                if vr == "UI":
                    out_uids.append((epath, v))
                kind = None
                if v in uids:
                    kind = "uid"
                else:
                    n = _norm(v)
                    if n in ctx.safe:  # a value the originals held in an attribute the policy keeps
                        continue
                    kind = single.get(n)
                    if kind is None:
                        for tok in n.split(" "):
                            kind = single.get(tok)
                            if kind:
                                break
                    if kind is None and " " in n and multi_re is not None:
                        hit = multi_re.search(n)
                        if hit:
                            kind = multi_kind[hit.group(0)]
                    if kind is None and pair_dates and vr != "UI":
                        for d, k in pair_dates.items():
                            if d in n:
                                kind = k
                                break
                if kind is not None:
                    hits.append(AuditHit(label, epath, kind))
                    found.add(kind)
                    break
        if idx is not None:
            origs = dict(ctx.uids_by_index.get(idx, []))
            for epath, new in out_uids:
                if epath == "meta:MediaStorageSOPInstanceUID":
                    # written from SOPInstanceUID (PS3.10 7.1), even where an
                    # original's two disagreed: checked through SOPInstanceUID
                    continue
                old = origs.get(epath)
                if old is None or is_standard_uid(old) or old == new:
                    continue
                uid_pairs.append((old, new))
    # Raw bytes: a second net under the element-level search. Where the file
    # parsed, every element was already searched word by word, so here only
    # UIDs and whole multi-word identifiers count (single common words in
    # structure bytes would be noise); an unparsable file is searched word by word.
    kept_here: set[str] = set()
    if ds is not None:
        kept_here = {
            str(v).strip("\0 ")
            for _p, _k, _vr, value, tag in _walk_elements(ds)
            if tag in _NOT_IDENTIFYING
            for v in _strings(value)
        }
    for m in _PRINTABLE.findall(_header_bytes(raw)):
        n = _norm(m.decode("ascii"))
        if n in ctx.safe:
            continue
        kind = None
        for tok in [n, *re.split(r"[^A-Z0-9.]+", n)]:
            if tok in uids and tok not in kept_here:
                kind = "uid"
            elif ds is None and tok in single and tok not in ctx.safe:
                kind = single[tok]
            if kind:
                break
        if kind is None and multi_re is not None:
            hit = multi_re.search(n)
            if hit:
                kind = multi_kind[hit.group(0)]
        if kind is not None and kind not in found:
            hits.append(AuditHit(label, "raw bytes", kind))
            found.add(kind)
    return _OutputResult(hits, uid_pairs, int(ds is None), int(idx is not None))


def _scan_outputs(items: list[tuple[int, str]], ctx: _Search) -> list[_OutputResult]:
    return [_scan_output(i, p, ctx) for i, p in items]


_SHARED: dict[str, Any] = {}


def _init_shared(args: tuple[Any, ...]) -> None:
    _SHARED["args"] = args


def _run_batch(fn: Any, items: list[tuple[int, str]]) -> list[Any]:
    return list(fn(items, *_SHARED["args"]))


def _map(fn: Any, items: list[tuple[int, str]], workers: int, args: tuple[Any, ...]) -> list[Any]:
    """``fn(batch, *args)`` over batches of items, in order; ``args`` go to each worker once."""
    from medanon.dicom.pipeline import _context, _main_importable

    if workers <= 1 or len(items) < 64 or not _main_importable():
        return list(fn(items, *args))
    size = max(16, min(256, len(items) // (workers * 8)))
    batches = [items[j : j + size] for j in range(0, len(items), size)]
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=_context(), initializer=_init_shared, initargs=(args,)
    ) as pool:
        return [r for part in pool.map(_run_batch, [fn] * len(batches), batches) for r in part]


def audit(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    report: DicomRunReport | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    dates: Literal["all", "birth", "none"] = "all",
    min_length: int = 4,
    policy: Policy | None = None,
    workers: int = 1,
) -> AuditReport:
    """Search de-identified outputs for identifiers of their originals.

    Parameters
    ----------
    src : path-like
        The original files.
    dst : path-like
        The de-identified files (any tool's output).
    report : DicomRunReport, dict or path to its JSON, optional
        Pairs outputs with originals by index; otherwise they are paired by
        a pixel-data fingerprint.
    dates : {"all", "birth", "none"}
        Which original dates count as leaks when found in the paired output:
        every date (dates were meant to be shifted or removed), only the
        birth date, or none (dates retained on purpose).
    min_length : int
        Shorter values are not searched (false hits).
    policy : Policy, optional
        Decides which text attributes are identifying (those it does not
        keep); default :class:`Policy()`.
    workers : int
        Processes reading the originals and searching the outputs.

    Returns
    -------
    AuditReport
        ``ok`` is False when any identifier is found or UIDs are
        inconsistent (one original -> several pseudonyms, or several
        originals -> one pseudonym).

    Examples
    --------
    >>> # rep = audit("in", "out", report=run_report)
    >>> # rep.ok, rep.summary()

    References
    ----------
    DICOM PS3.15 Annex E.
    """
    if dates not in ("all", "birth", "none"):
        raise ValueError(f"dates must be 'all', 'birth' or 'none', got {dates!r}")
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 1:
        raise ValueError(f"min_length must be a positive int, got {min_length!r}")
    src_p, dst_p = Path(src), Path(dst)
    for name, p in (("src", src_p), ("dst", dst_p)):
        if not p.exists():
            raise FileNotFoundError(f"{name} {p} does not exist")
    policy = policy or Policy()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    rep = AuditReport()

    # 1. what the originals hold (per file, in parallel when asked)
    todo: list[tuple[int, str]] = []
    index = 0
    for path, walk_kind in iter_candidates(src_p):
        if walk_kind == "hidden":
            continue
        if walk_kind == "" and path is not None:
            todo.append((index, str(path)))
        index += 1
    originals = [o for o in _map(_scan_originals, todo, workers, (policy, min_length)) if o is not None]
    idents = _Idents(min_length)
    fp_to_index: dict[str, int] = {}
    fp_dupes: set[str] = set()
    for o in originals:
        for v, kind in o.values.items():
            idents.values.setdefault(v, kind)
        idents.uids |= o.uids
        idents.safe |= o.safe
        if o.fingerprint is not None:
            if o.fingerprint in fp_to_index:
                fp_dupes.add(o.fingerprint)
            fp_to_index[o.fingerprint] = o.index
    # the text medanon itself writes (pseudonym prefix, dummy values) is not a leak
    # even where an original happens to hold the same word (e.g. already "ANON")
    idents.safe.add(_norm(policy.pseudonym_prefix))
    idents.finish()
    rep.originals = len(originals)
    rep.identifiers = len(idents.values) + len(idents.uids)

    # 2. search every output for them
    # medanon's own reports (report.html, report.json) hold prose, not data; their
    # contents are tested to carry no identifier. metadata.csv is searched.
    out_files = [
        str(p)
        for p, k in iter_candidates(dst_p)
        if p is not None and k == "" and not (p.parent == dst_p and p.name in _OWN_REPORTS)
    ]
    pairs: dict[str, int] = {}
    if report is not None:
        for i, rel in _report_pairs(report).items():
            pairs[str((dst_p / rel).resolve())] = i
    search = _Search(
        root=str(dst_p),
        single=idents.values,
        uids=idents.uids,
        safe=idents.safe,
        dates=dates,
        pairs=pairs,
        fp_to_index={fp: i for fp, i in fp_to_index.items() if fp not in fp_dupes},
        dates_by_index={o.index: o.dates for o in originals},
        uids_by_index={o.index: o.uid_paths for o in originals},
    )
    uid_map: dict[str, set[str]] = defaultdict(set)
    uid_rev: dict[str, set[str]] = defaultdict(set)
    for res in _map(_scan_outputs, list(enumerate(out_files)), workers, (search,)):
        rep.outputs += 1
        rep.unreadable_outputs += res.unreadable
        rep.paired += res.paired
        rep.hits.extend(res.hits)
        for old, new in res.uid_pairs:
            uid_map[old].add(new)
            uid_rev[new].add(old)
    for news in uid_map.values():
        if len(news) > 1:
            rep.uid_problems.append(f"one original UID became {len(news)} different UIDs")
    for olds in uid_rev.values():
        if len(olds) > 1:
            rep.uid_problems.append(f"{len(olds)} different original UIDs became one UID")
    if rep.paired < rep.outputs:
        rep.notes.append(
            f"{rep.outputs - rep.paired} outputs could not be paired with an original: "
            "their dates and UID consistency were not checked"
        )
    return rep
