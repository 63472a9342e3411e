"""argparse registration of the ``dicom`` and ``audit`` sub-commands.

``medanon/cli.py`` calls :func:`register` with its sub-parsers; each
sub-command sets ``func(args) -> int`` (0 ok, 1 files failed or leaks
found, 2 usage error).

References
----------
DICOM PS3.15 Annex E.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from medanon.dicom.policy import OPTION_FIELDS, Policy

__all__ = ["register"]

_RETAIN_FLAGS = {
    "retain_long_modified_dates": "--retain-modified-dates",
    "retain_long_full_dates": "--retain-full-dates",
    "retain_uids": "--retain-uids",
    "retain_device_identity": "--retain-device-identity",
    "retain_institution_identity": "--retain-institution-identity",
    "retain_patient_characteristics": "--retain-patient-characteristics",
    "retain_safe_private": "--retain-safe-private",
}


def _add_bool(p: argparse.ArgumentParser, flag: str, dest: str, default: bool, text: str) -> None:
    p.add_argument(
        flag,
        dest=dest,
        action=argparse.BooleanOptionalAction,
        default=default,
        help=f"{text} (default: {'on' if default else 'off'})",
    )


def register(subparsers: Any) -> None:
    """Add ``dicom`` and ``audit`` to an argparse sub-parsers object.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="medanon")
    >>> register(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["dicom", "in", "out", "--workers", "2"])
    >>> args.workers, args.func.__name__
    (2, '_run_dicom')

    References
    ----------
    DICOM PS3.15 E.3 (options).
    """
    defaults = Policy()
    p = subparsers.add_parser(
        "dicom",
        help="de-identify a folder of DICOM files (PS3.15 Basic Profile)",
        description="De-identify every DICOM file under SRC into DST.",
    )
    p.add_argument("src", type=Path, metavar="SRC")
    p.add_argument("dst", type=Path, metavar="DST")
    p.add_argument(
        "--key-file",
        type=Path,
        help="secret key file (>= 16 bytes); without it a random key is used and pseudonyms will not match later runs",
    )
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--burned-in", choices=["auto", "all", "off"], default="auto", help="burned-in text masking (default auto)"
    )
    p.add_argument("--review-dir", type=Path, help="where the pixel step writes review images")
    p.add_argument("--pixel-rules", type=Path, help="pixel masking rule file")
    p.add_argument(
        "--allow-undecodable-pixels", action="store_true", help="write files whose pixels cannot be decoded (unscanned)"
    )
    for name, flag in _RETAIN_FLAGS.items():
        _add_bool(p, flag, name, getattr(defaults, name), f"Table E.1-1 option {OPTION_FIELDS[name]}")
    _add_bool(p, "--clean-descriptors", "clean_descriptors", True, "clean (remove) descriptors")
    _add_bool(p, "--clean-structured-content", "clean_structured_content", True, "clean structured content")
    _add_bool(p, "--clean-graphics", "clean_graphics", True, "clean graphics")
    p.add_argument("--keep-private", action="store_true", help="keep private attributes (NOT conformant with PS3.15)")
    p.add_argument("--prefix", default=defaults.pseudonym_prefix, help="pseudonym prefix")
    p.add_argument(
        "--report",
        type=Path,
        help="also write the run report as JSON here (DST/report.json and DST/report.html are always written)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = p.add_argument_group("corpus-level k-anonymity of the patients (the research release)")
    g.add_argument("-k", type=int, help="every released group of patients holds >= k people")
    g.add_argument("-l", type=float, help="l-diversity of --sensitive (default 2 with --sensitive)")
    g.add_argument("--diversity", choices=["distinct", "entropy", "recursive"], help="default distinct")
    g.add_argument("--c", type=float, default=1.0, help="c of recursive (c,l)-diversity")
    g.add_argument(
        "--qi",
        help="quasi-identifiers, comma-separated: age, sex, weight, size, ethnic_group, "
        "first_study_year, DICOM keywords or clinical columns (default age,sex,weight,size)",
    )
    g.add_argument("--sensitive", help="sensitive attribute: a clinical column or a DICOM keyword")
    g.add_argument("--clinical", type=Path, help="clinical table (CSV or Parquet) joined on the original PatientID")
    g.add_argument("--clinical-id", default="PatientID", help="its patient ID column (default PatientID)")
    p.add_argument("--no-audit", action="store_true", help="skip the audit of the output")
    p.set_defaults(func=_run_dicom)

    a = subparsers.add_parser(
        "audit",
        help="search de-identified DICOM files for identifiers of the originals",
        description="Audit DST (de-identified) against SRC (originals).",
    )
    a.add_argument("src", type=Path, metavar="SRC")
    a.add_argument("dst", type=Path, metavar="DST")
    a.add_argument("--run-report", type=Path, help="JSON report of the run (pairs files)")
    a.add_argument(
        "--dates",
        choices=["all", "birth", "none"],
        default="all",
        help="which original dates count as leaks (default all)",
    )
    a.add_argument("--report", type=Path, help="write the audit report as JSON")
    a.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    a.set_defaults(func=_run_audit)


def _run_dicom(args: argparse.Namespace) -> int:
    from medanon.dicom.pipeline import key_from_file
    from medanon.dicom.release import anonymise_dicom

    try:
        key = key_from_file(args.key_file) if args.key_file else None
        policy = Policy(
            retain_long_modified_dates=args.retain_long_modified_dates,
            retain_long_full_dates=args.retain_long_full_dates,
            retain_uids=args.retain_uids,
            retain_device_identity=args.retain_device_identity,
            retain_institution_identity=args.retain_institution_identity,
            retain_patient_characteristics=args.retain_patient_characteristics,
            retain_safe_private=args.retain_safe_private,
            clean_descriptors=args.clean_descriptors,
            clean_structured_content=args.clean_structured_content,
            clean_graphics=args.clean_graphics,
            remove_private=not args.keep_private,
            burned_in=args.burned_in,
            pixel_rules=args.pixel_rules,
            allow_undecodable_pixels=args.allow_undecodable_pixels,
            review_dir=args.review_dir,
            pseudonym_prefix=args.prefix,
        )
        if args.k is None and (args.sensitive or args.qi or args.l or args.clinical):
            raise ValueError("--qi, --sensitive, -l and --clinical need -k")
        release = anonymise_dicom(
            args.src,
            args.dst,
            key=key,
            policy=policy,
            workers=args.workers,
            progress=not args.no_progress,
            k=args.k,
            l=args.l,
            diversity=args.diversity,
            c=args.c,
            quasi_identifiers=[q.strip() for q in args.qi.split(",") if q.strip()] if args.qi else None,
            sensitive=args.sensitive,
            clinical=args.clinical,
            clinical_id=args.clinical_id,
            run_audit=not args.no_audit,
        )
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"medanon dicom: error: {exc}", file=sys.stderr)
        return 2
    report = release.run
    if args.report:
        report.write_json(args.report)
    print(report.summary())
    rep = release.report
    if "achieved" in rep:
        for where, v in rep["achieved"].items():
            print(
                f"  achieved on the {where}: k = {v['k']}, distinct l = {v['distinct_l']}, "
                f"groups = {v['classes']}, patients = {v['rows']}"
            )
    if release.audit is not None:
        print(release.audit.summary())
    print(f"  report: {args.dst / 'report.html'}")
    for r in report.results:
        if r.status == "failed":
            print(f"  file #{r.index}: {r.reason}")
    for note in report.notes:
        print(f"  note: {note}")
    return 0 if release.ok else 1


def _run_audit(args: argparse.Namespace) -> int:
    from medanon.dicom.audit import audit

    try:
        rep = audit(args.src, args.dst, report=args.run_report, dates=args.dates, workers=args.workers)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"medanon audit: error: {exc}", file=sys.stderr)
        return 2
    if args.report:
        rep.write_json(args.report)
    print(rep.summary())
    for h in rep.hits[:50]:
        print(f"  {h.file} {h.location}: {h.kind}")
    if len(rep.hits) > 50:
        print(f"  ... {len(rep.hits) - 50} more")
    for msg in rep.uid_problems:
        print(f"  UID: {msg}")
    return 0 if rep.ok else 1
