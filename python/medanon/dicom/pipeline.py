"""Folder-to-folder DICOM de-identification: walk, process, write, report.

:func:`deidentify_folder` walks a source folder, runs :func:`process_file` on
every candidate file (in this process or in a pool of spawn-safe worker
processes) and returns a :class:`DicomRunReport`. :func:`process_file` is a
pure function of picklable inputs (path, destination root, policy, key,
per-patient characteristics), so it can also run on dask workers.

Outputs go to ``dst/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``
(all pseudonymous), written atomically (a hidden temporary file in the
destination directory, then a hard link to the final name, which is never
overwritten). A file that cannot be read,
parsed, de-identified or (when asked) pixel-cleaned is listed in the report
with a reason and never written. Reports hold no identifiers: files are
named by their index in the sorted walk and by their pseudonymous output.

References
----------
DICOM PS3.10 7 (file format), PS3.15 Annex E.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import stat
import struct
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from pydicom import dcmread
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import (
    correct_ambiguous_vr_element,
    dcmwrite,
    write_data_element,
    write_file_meta_info,
)
from pydicom.uid import UID, ExplicitVRLittleEndian

from medanon.dicom.deidentify import add_method_code, deidentify_with_stats
from medanon.dicom.policy import Policy
from medanon.dicom.pseudonym import coerce_key

__all__ = [
    "DicomRunReport",
    "FileResult",
    "deidentify_folder",
    "iter_candidates",
    "key_from_file",
    "process_file",
]

_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_SWAP = {"OW": ">u2", "OF": ">u4", "OL": ">u4", "OD": ">u8", "OV": ">u8"}
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


@dataclass
class FileResult:
    """The outcome for one input file (no identifiers, no original path).

    ``status`` is ``"ok"`` (written), ``"failed"`` (not written; ``reason``
    says why) or ``"skipped"`` (DICOMDIR, not a regular file). ``output`` is
    the pseudonymous path relative to the destination root. ``pixel`` tells
    what the pixel step did: ``off``, ``no pixel data``, ``scanned``,
    ``not scanned``, ``unavailable`` or ``undecodable``.
    """

    index: int
    status: Literal["ok", "failed", "skipped"] = "failed"
    reason: str = ""
    output: str = ""
    patient: str = ""
    pixel: str = "off"
    boxes_masked: int = 0
    frames: int = 0
    warnings: int = 0
    invalid_removed: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class DicomRunReport:
    """What a run of :func:`deidentify_folder` did.

    Attributes
    ----------
    results : list of FileResult
        One per candidate file, in walk order (``index``).
    hidden_skipped : int
        Hidden files and folders (name starting with ``.``) not visited.
    policy : dict
        The policy used (:meth:`Policy.to_dict`).
    method_codes : list of [code, meaning]
        CID 7050 codes of the header profile applied (113101 is added per
        file when its pixels were scanned).
    key_source : str
        ``"given"`` or ``"random"`` (never the key).
    seconds : dict
        ``walk``, ``process`` and ``total`` wall-clock seconds, plus summed
        per-stage seconds over files.
    notes : list of str
        Run-level remarks (pixel step unavailable, duplicates, empty input).
    """

    results: list[FileResult] = field(default_factory=list)
    hidden_skipped: int = 0
    policy: dict[str, Any] = field(default_factory=dict)
    method_codes: list[list[str]] = field(default_factory=list)
    key_source: str = "given"
    workers: int = 1
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def written(self) -> int:
        """Files written."""
        return sum(r.status == "ok" for r in self.results)

    @property
    def failed(self) -> int:
        """Files not written because of an error."""
        return sum(r.status == "failed" for r in self.results)

    @property
    def skipped(self) -> int:
        """Files deliberately not processed (DICOMDIR, special files)."""
        return sum(r.status == "skipped" for r in self.results)

    @property
    def ok(self) -> bool:
        """True when no file failed and at least one was written."""
        return self.failed == 0 and self.written > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary and per-file results."""
        return {
            "ok": self.ok,
            "files": len(self.results),
            "written": self.written,
            "failed": self.failed,
            "skipped": self.skipped,
            "hidden_skipped": self.hidden_skipped,
            "workers": self.workers,
            "key_source": self.key_source,
            "policy": self.policy,
            "method_codes": self.method_codes,
            "boxes_masked": sum(r.boxes_masked for r in self.results),
            "seconds": self.seconds,
            "notes": self.notes,
            "results": [asdict(r) for r in self.results],
        }

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        os.replace(tmp, target)

    def summary(self) -> str:
        """One line for humans."""
        return (
            f"{self.written} written, {self.failed} failed, {self.skipped} skipped "
            f"of {len(self.results)} files in {self.seconds.get('total', 0.0):.2f} s"
        )


# ----------------------------------------------------------------------
def key_from_file(path: str | os.PathLike[str]) -> bytes:
    """Read a secret key from a file (trailing newline stripped, >= 16 bytes).

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("wb", delete=False) as f:
    ...     _ = f.write(b"0123456789abcdef0123456789abcdef\\n")
    >>> len(key_from_file(f.name)); os.unlink(f.name)
    32

    References
    ----------
    DICOM PS3.15 E.3.9 (a persistent secret keeps replacements consistent).
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ValueError(f"key file {p}: cannot be read ({exc.strerror})") from None
    data = data.rstrip(b"\r\n")
    if len(data) < 16:
        raise ValueError(f"key file {p}: must hold at least 16 bytes, has {len(data)}")
    return data


def iter_candidates(src: Path) -> Iterator[tuple[Path | None, str]]:
    """Yield ``(path, "")`` for candidate files, ``(None, kind)`` for skips.

    Sorted, deterministic walk; hidden files and folders yield
    ``(None, "hidden")``, DICOMDIR files ``(path, "DICOMDIR")``.
    """
    if src.is_file():
        yield src, ""
        return
    for root, dirs, files in os.walk(src):
        hidden = [d for d in dirs if d.startswith(".")]
        for _ in hidden:
            yield None, "hidden"
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                yield None, "hidden"
            elif name.upper() == "DICOMDIR":
                yield Path(root, name), "DICOMDIR"
            else:
                yield Path(root, name), ""


# ----------------------------------------------------------------------
def _fail(result: FileResult, reason: str) -> FileResult:
    result.status = "failed"
    result.reason = reason
    return result


def _read(path: Path) -> tuple[Dataset | None, str]:
    try:
        st = os.stat(path)
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or type(exc).__name__})"
    if not stat.S_ISREG(st.st_mode):
        return None, "not a regular file"
    if st.st_size == 0:
        return None, "not DICOM (empty file)"
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or type(exc).__name__})"
    raw_dataset = False
    if head[128:132] != b"DICM":
        # no preamble: accept only a dataset that starts like one (group 0002/0008)
        if head[:2] not in (b"\x02\x00", b"\x08\x00") or len(head) < 8:
            return None, "not DICOM (no DICM prefix and no recognisable dataset start)"
        raw_dataset = True
    try:
        ds = dcmread(path, force=raw_dataset)
    except InvalidDicomError:
        return None, "not DICOM"
    except (EOFError, OSError) as exc:
        return None, f"truncated or unreadable ({type(exc).__name__})"
    except Exception as exc:  # pydicom raises many kinds on corrupt input
        return None, f"cannot be parsed by pydicom ({type(exc).__name__})"
    if raw_dataset:
        missing = [k for k in ("SOPClassUID", "SOPInstanceUID") if not ds.get(k)]
        if missing:
            return None, "not DICOM (no file meta and no SOP Class/Instance UID)"
    return ds, ""


def _swap_big_endian(ds: Dataset) -> None:
    """Byte-swap OW/OF/OL/OD/OV values read from a big endian file, in place."""
    for tag in list(ds.keys()):
        raw = cast("DataElement | RawDataElement | None", ds.get_item(tag))
        if raw is None:
            continue
        vr: str | None = raw.VR
        if vr == "SQ":
            for item in ds[tag].value or []:
                _swap_big_endian(item)
            continue
        dtype = _SWAP.get(vr or "")
        value = raw.value
        if dtype is None or not isinstance(value, bytes | bytearray):
            continue
        if isinstance(raw, RawDataElement) and raw.is_little_endian:
            continue
        if len(value) % np.dtype(dtype).itemsize:
            raise ValueError(f"({tag.group:04X},{tag.element:04X}) has an odd length")
        swapped = np.frombuffer(value, dtype=dtype).astype(dtype.replace(">", "<")).tobytes()
        ds._dict[tag] = DataElement(tag, str(vr), swapped)


def _has_pixels(ds: Dataset) -> bool:
    return any(k in ds for k in _PIXEL_KEYWORDS)


def _pixel_step(out: Dataset, policy: Policy, result: FileResult) -> str:
    """Run the burned-in text step; returns a failure reason or ''."""
    if policy.burned_in == "off":
        result.pixel = "off"
        return ""
    if not _has_pixels(out):
        result.pixel = "no pixel data"
        return ""
    try:
        from medanon.dicom import pixels as _pixels

        clean = _pixels.clean_pixels
        pixel_error: type[Exception] = _pixels.PixelDataError
    except (ImportError, AttributeError):
        result.pixel = "unavailable"
        return ""
    try:
        res = clean(out, policy)
    except pixel_error as exc:
        if policy.allow_undecodable_pixels:
            result.pixel = "undecodable"
            return ""
        return f"pixel data cannot be cleaned: {exc}"
    result.frames = int(getattr(res, "frames", 0))
    result.boxes_masked = int(getattr(res, "boxes_masked", 0))
    if getattr(res, "scanned", False):
        result.pixel = "scanned"
        add_method_code(out, "clean_pixels")
    else:
        result.pixel = "not scanned"
    return ""


_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"})


def _encode_explicit_le(ds: Dataset) -> bytes:
    """Encode a file (preamble, file meta, dataset) in explicit VR little endian.

    Elements still held as raw explicit-VR-little-endian bytes from the input
    are copied as they are (no decode/encode round trip: the hot path);
    everything else goes through pydicom's element writer.
    """
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    fp.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(fp, ds.file_meta, enforce_standard=True)
    encodings = ds._character_set
    pack_short = struct.Struct("<HH2sH").pack
    pack_long = struct.Struct("<HH2sHL").pack
    elements = ds._dict
    for tag in sorted(elements):
        raw = elements[tag]
        if (
            isinstance(raw, RawDataElement)
            and raw.is_little_endian
            and not raw.is_implicit_VR
            and raw.VR
            and isinstance(raw.value, bytes)
            and raw.length == len(raw.value)
            and not raw.length & 1
            and raw.VR != "SQ"
        ):
            group, elem = tag >> 16, tag & 0xFFFF
            vr = raw.VR.encode("ascii")
            if raw.VR in _LONG_VRS:
                fp.write(pack_long(group, elem, vr, 0, raw.length))
            elif raw.length <= 0xFFFF:
                fp.write(pack_short(group, elem, vr, raw.length))
            else:
                write_data_element(fp, ds[tag], encodings)
                continue
            fp.write(raw.value)
            continue
        element: DataElement | RawDataElement = ds[tag]
        if " or " in str(element.VR):
            element = correct_ambiguous_vr_element(element, ds, True)
        write_data_element(fp, element, encodings)
    return fp.getvalue()


class _ExistsError(Exception):
    """An output of the same name exists with other content."""


def _write_atomic(ds: Dataset, final: Path) -> None:
    """Write to a hidden temporary file, then link it to its final name.

    The final name is never overwritten: if it exists with identical bytes
    (a re-run) the write is a no-op; with other bytes (two inputs sharing a
    SOP Instance UID, or another policy/key) :class:`_ExistsError` is raised.
    """
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".medanon-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            if ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian or (
                ds.file_meta.TransferSyntaxUID.is_encapsulated
            ):
                f.write(_encode_explicit_le(ds))
            else:  # pragma: no cover - the pipeline only writes the two above
                dcmwrite(f, ds, enforce_file_format=True)
        try:
            os.link(tmp_name, final)
        except FileExistsError:
            if Path(tmp_name).read_bytes() != final.read_bytes():
                raise _ExistsError from None
        os.unlink(tmp_name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def process_file(
    path: str | os.PathLike[str],
    dst_root: str | os.PathLike[str],
    policy: Policy,
    key: bytes | str,
    characteristics_by_patient: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    index: int = 0,
) -> FileResult:
    """De-identify one file and write it under ``dst_root`` atomically.

    Parameters
    ----------
    path : path-like
        The input file (never modified, never overwritten).
    dst_root : path-like
        Output root; the file goes to
        ``<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``.
    policy : Policy
        De-identification options.
    key : bytes or str
        Secret key.
    characteristics_by_patient : mapping, optional
        ``pseudonymous PatientID -> {keyword: value}`` (see
        :func:`medanon.dicom.deidentify.patient_token`), applied after the
        profile (corpus-level k-anonymity).
    index : int
        The file's number in the run, used in the result instead of its name.

    Returns
    -------
    FileResult
        Never raises for bad input (only for KeyboardInterrupt/SystemExit,
        after removing any temporary file).

    Examples
    --------
    >>> # process_file(Path("in/x.dcm"), Path("out"), Policy(), b"k" * 32)

    References
    ----------
    DICOM PS3.10 7.1 (file meta), PS3.15 Annex E.
    """
    t0 = time.perf_counter()
    result = FileResult(index=index)
    stages = result.stage_seconds
    src = Path(path)
    root = Path(dst_root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds, reason = _read(src)
            t1 = time.perf_counter()
            stages["read"] = t1 - t0
            if ds is None:
                return _fail(result, reason)
            for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
                if not str(ds.get(kw, "") or "").strip():
                    return _fail(result, f"missing {kw} (Type 1)")
            meta = getattr(ds, "file_meta", None)
            ts = UID(str(meta.get("TransferSyntaxUID", ""))) if meta is not None else None
            if ts is not None and str(ts) == _BIG_ENDIAN:
                _swap_big_endian(ds)
            token = ""
            chars = None
            if characteristics_by_patient:
                from medanon.dicom.deidentify import patient_token

                token = patient_token(ds, key, policy)
                chars = characteristics_by_patient.get(token)
            out, stats = deidentify_with_stats(ds, policy, key, chars)
            result.patient = stats.patient_token
            result.invalid_removed = stats.invalid_removed
            out_ts = out.file_meta.TransferSyntaxUID
            if not (out_ts.is_encapsulated and _has_pixels(out)):
                out.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            t2 = time.perf_counter()
            stages["deidentify"] = t2 - t1
            reason = _pixel_step(out, policy, result)
            t3 = time.perf_counter()
            stages["pixels"] = t3 - t2
            if reason:
                return _fail(result, reason)
            rel = Path(str(out.StudyInstanceUID), str(out.SeriesInstanceUID), f"{out.SOPInstanceUID}.dcm")
            final = root / rel
            if final.resolve() == src.resolve():
                return _fail(result, "output would overwrite the input")
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                _write_atomic(out, final)
            except _ExistsError:
                return _fail(
                    result,
                    "an output with the same SOP Instance UID and other "
                    "content exists (duplicate SOP Instance UID or earlier run)",
                )
            except Exception as exc:
                return _fail(result, f"cannot be written ({type(exc).__name__})")
            stages["write"] = time.perf_counter() - t3
            result.status = "ok"
            result.output = rel.as_posix()
            return result
        except Exception as exc:
            return _fail(result, f"cannot be de-identified ({type(exc).__name__})")
        finally:
            result.warnings = len(caught)
            result.seconds = time.perf_counter() - t0


# Per-worker state, set once by the pool's initializer so that batches carry
# only file paths (the characteristics of a large corpus are pickled once per
# worker, not once per batch).
_WORKER: dict[str, Any] = {}


def _init_worker(
    dst_root: str,
    policy: Policy,
    key: bytes,
    characteristics_by_patient: Mapping[str, Mapping[str, Any]] | None,
) -> None:
    _WORKER.update(dst_root=dst_root, policy=policy, key=key, chars=characteristics_by_patient)


def _process_batch(items: list[tuple[int, str]]) -> list[FileResult]:
    w = _WORKER
    return [process_file(p, w["dst_root"], w["policy"], w["key"], w["chars"], index=i) for i, p in items]


def _check_paths(src: Path, dst: Path) -> tuple[Path, Path]:
    if not src.exists():
        raise FileNotFoundError(f"src {src} does not exist")
    s = src.resolve()
    d = dst.resolve()
    base = s if s.is_dir() else s.parent
    if d == base or base in d.parents:
        raise ValueError(f"dst {dst} must not be src or inside it")
    if d.exists() and not d.is_dir():
        raise ValueError(f"dst {dst} exists and is not a directory")
    return s, d


def _main_importable() -> bool:
    """Whether spawned or forkserver workers can re-import ``__main__`` (not so for stdin)."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return path is None or os.path.exists(path)


def _context() -> multiprocessing.context.BaseContext:
    if sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["medanon.dicom.pipeline"])
        return ctx
    return multiprocessing.get_context("spawn")


def resolve_key(key: bytes | str | None, stacklevel: int = 2) -> tuple[bytes, str]:
    """The key as bytes and where it came from (``"given"`` or ``"random"``).

    ``None`` makes a random 32-byte key for this run and warns (``UserWarning``)
    that pseudonyms will not match later runs.

    Examples
    --------
    >>> resolve_key("secret")
    (b'secret', 'given')
    """
    if key is None:
        warnings.warn(
            "no key given: a random key is used for this run only, so pseudonyms and "
            "UIDs will not match those of later runs",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
        return os.urandom(32), "random"
    return coerce_key(key), "given"


def _died(batch: list[tuple[int, str]]) -> list[FileResult]:
    return [FileResult(index=i, reason="worker process died while processing this batch") for i, _ in batch]


def deidentify_folder(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    key: bytes | str | None = None,
    policy: Policy | None = None,
    workers: int = 1,
    progress: bool = True,
    characteristics_by_patient: Mapping[str, Mapping[str, Any]] | None = None,
) -> DicomRunReport:
    """De-identify every DICOM file under ``src`` into ``dst``.

    Parameters
    ----------
    src, dst : path-like
        Input folder (or one file) and output folder; ``dst`` must not be
        ``src`` or inside it. Hidden files are skipped; DICOMDIR files are
        skipped and reported.
    key : bytes, str or None
        Secret key. ``None`` makes a random 32-byte key for this run and
        warns (``UserWarning``) that pseudonyms will not match later runs.
    policy : Policy, optional
        Defaults to :class:`Policy()`.
    workers : int
        Processes; > 1 uses a spawn-safe process pool.
    progress : bool
        Show a rich progress bar (only on a terminal).
    characteristics_by_patient : mapping, optional
        See :func:`process_file`.

    Returns
    -------
    DicomRunReport

    Examples
    --------
    >>> # report = deidentify_folder("in", "out", key=key_from_file("key.bin"))
    >>> # report.ok, report.written

    References
    ----------
    DICOM PS3.15 Annex E; PS3.10.
    """
    t0 = time.perf_counter()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    policy = policy if policy is not None else Policy()
    if not isinstance(policy, Policy):
        raise TypeError(f"policy must be a medanon Policy, got {type(policy).__name__}")
    raw_key, key_source = resolve_key(key, stacklevel=3)
    s, d = _check_paths(Path(src), Path(dst))
    report = DicomRunReport(
        policy=policy.to_dict(),
        method_codes=[[c, m] for c, m in policy.method_codes()],
        key_source=key_source,
        workers=workers,
    )
    todo: list[tuple[int, str]] = []
    index = 0
    for path, kind in iter_candidates(s):
        if kind == "hidden":
            report.hidden_skipped += 1
            continue
        if kind == "DICOMDIR":
            report.results.append(FileResult(index=index, status="skipped", reason="DICOMDIR"))
        else:
            assert path is not None
            todo.append((index, str(path)))
        index += 1
    t_walk = time.perf_counter()
    if index == 0:
        report.notes.append("no files found under src")
    d.mkdir(parents=True, exist_ok=True)
    results: list[FileResult] = []
    show = progress and sys.stderr.isatty() and len(todo) > 0
    bar: Any = None
    task: Any = None
    if show:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("de-identifying", total=len(todo))
    try:
        if workers > 1 and len(todo) > 1 and not _main_importable():
            report.notes.append(
                "workers > 1 needs a main module that worker processes can import (not stdin): "
                "ran in this process instead"
            )
            workers = 1
        if workers == 1 or len(todo) <= 1:
            for i, p in todo:
                results.append(process_file(p, d, policy, raw_key, characteristics_by_patient, index=i))
                if bar is not None:
                    bar.advance(task)
        else:
            size = max(1, min(32, len(todo) // (workers * 4) or 1))
            batches = [todo[j : j + size] for j in range(0, len(todo), size)]
            with ProcessPoolExecutor(
                max_workers=workers,
                mp_context=_context(),
                initializer=_init_worker,
                initargs=(str(d), policy, raw_key, characteristics_by_patient),
            ) as pool:
                batch_of: dict[Future[list[FileResult]], list[tuple[int, str]]] = {}
                for b in batches:
                    try:
                        batch_of[pool.submit(_process_batch, b)] = b
                    except BrokenProcessPool:
                        # A worker died before every batch was handed out (even in its
                        # initializer): the batches not handed out are reported the same way.
                        results.extend(_died(b))
                        if bar is not None:
                            bar.advance(task, len(b))
                pending = set(batch_of)
                try:
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in done:
                            try:
                                batch = fut.result()
                            except BrokenProcessPool:
                                # A worker died (e.g. a decoder crashed on a file): its files are
                                # reported, never retried in this process, never written.
                                batch = _died(batch_of[fut])
                            results.extend(batch)
                            if bar is not None:
                                bar.advance(task, len(batch))
                except BaseException:
                    for fut in pending:
                        fut.cancel()
                    raise
    finally:
        if bar is not None:
            bar.stop()
    t_proc = time.perf_counter()
    report.results.extend(results)
    report.results.sort(key=lambda r: r.index)
    seen: dict[str, int] = {}
    for r in report.results:
        if r.status != "ok":
            continue
        if r.output in seen:
            r.reason = f"identical to the output of file #{seen[r.output]}"
            report.notes.append(f"file #{r.index} gave the same output as file #{seen[r.output]}")
        else:
            seen[r.output] = r.index
    if any(r.pixel == "unavailable" for r in report.results):
        report.notes.append("pixel step unavailable: burned-in text was not scanned")
    stage_totals: dict[str, float] = {}
    for r in report.results:
        for k, v in r.stage_seconds.items():
            stage_totals[k] = stage_totals.get(k, 0.0) + v
    report.seconds = {
        "walk": t_walk - t0,
        "process": t_proc - t_walk,
        "total": time.perf_counter() - t0,
        **{f"sum_{k}": v for k, v in stage_totals.items()},
    }
    return report
