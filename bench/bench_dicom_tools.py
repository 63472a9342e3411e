"""Benchmark medanon's DICOM header de-identification against other tools.

Generates one synthetic corpus (identifiers planted everywhere), runs
medanon (1 and 2 workers), dicognito, deid (default recipe, Python API) and
dicom-anonymizer on it, then runs medanon's audit on every tool's output and
prints/saves a table: tool, files, seconds, files/s, identifier hits.

Usage::

    python bench/bench_dicom_tools.py [--patients 10] [--out bench/results]

Not collected by pytest (bench/ is outside testpaths). The pixel step is off
for medanon (the other tools do not scan pixels). Results go to
bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

KEY = b"bench-key-0123456789abcdef-bench"


def run_medanon(workers: int) -> Callable[[Path, Path], int]:
    def run(src: Path, dst: Path) -> int:
        from medanon.dicom.pipeline import deidentify_folder as anonymise_dicom
        from medanon.dicom.policy import Policy

        report = anonymise_dicom(src, dst, key=KEY, policy=Policy(burned_in="off"),
                                 workers=workers, progress=False)
        return report.written

    return run


def run_dicognito(src: Path, dst: Path) -> int:
    import pydicom
    from dicognito.anonymizer import Anonymizer

    anonymizer = Anonymizer(seed="bench")
    n = 0
    for p in sorted(src.rglob("*")):
        if not p.is_file():
            continue
        ds = pydicom.dcmread(p)
        anonymizer.anonymize(ds)
        out = dst / p.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(out)
        n += 1
    return n


def run_deid(src: Path, dst: Path) -> int:
    from deid.dicom import get_files, replace_identifiers

    files = list(get_files(str(src)))
    dst.mkdir(parents=True, exist_ok=True)
    # deid writes by base name: keep names unique by running per folder
    n = 0
    by_dir: dict[Path, list[str]] = {}
    for f in files:
        by_dir.setdefault(Path(f).parent, []).append(f)
    for d, group in sorted(by_dir.items()):
        out = dst / d.relative_to(src)
        out.mkdir(parents=True, exist_ok=True)
        written = replace_identifiers(dicom_files=group, save=True, output_folder=str(out),
                                      overwrite=True, remove_private=True)
        n += len(written)
    return n


def run_dicom_anonymizer(src: Path, dst: Path) -> int:
    from dicomanonymizer import anonymize

    n = 0
    for p in sorted(src.rglob("*")):
        if not p.is_file():
            continue
        out = dst / p.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        anonymize(str(p), str(out), {}, True)
        n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--tools", default="medanon-1,medanon-2,dicognito,deid,dicom-anonymizer")
    args = parser.parse_args(argv)

    from medanon.dicom.audit import audit
    from medanon.synthetic.dicom_corpus import make_corpus

    tools: dict[str, Callable[[Path, Path], int]] = {
        "medanon-1": run_medanon(1),
        "medanon-2": run_medanon(2),
        "dicognito": run_dicognito,
        "deid": run_deid,
        "dicom-anonymizer": run_dicom_anonymizer,
    }
    work = Path(tempfile.mkdtemp(prefix="medanon-bench-"))
    try:
        corpus = make_corpus(work / "corpus", n_patients=args.patients, studies_per_patient=3,
                             series_per_study=2, images_per_series=5, seed=1)
        n_files = len(corpus.files)
        print(f"corpus: {n_files} files in {work / 'corpus'}")
        rows = []
        for name in args.tools.split(","):
            src = work / f"src-{name}"
            shutil.copytree(corpus.root, src)
            dst = work / f"out-{name}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                try:
                    written = tools[name](src, dst)
                    error = ""
                except Exception as exc:  # a tool that fails is reported, not fatal
                    written, error = 0, f"{type(exc).__name__}: {exc}"[:200]
                seconds = time.perf_counter() - t0
                rep = audit(corpus.root, dst) if dst.exists() else None
            row = {
                "tool": name,
                "files": written,
                "seconds": round(seconds, 3),
                "files_per_s": round(written / seconds, 1) if seconds > 0 else 0.0,
                "leaks": len(rep.hits) if rep else None,
                "leak_kinds": rep.hits_by_kind() if rep else {},
                "uid_problems": len(rep.uid_problems) if rep else None,
                "error": error,
            }
            rows.append(row)
            print(f"{name:18s} {written:5d} files {seconds:7.2f} s {row['files_per_s']:8.1f} f/s "
                  f"leaks {row['leaks']} {row['leak_kinds']} uid problems {row['uid_problems']}"
                  + (f" ERROR {error}" if error else ""), flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "dicom_tools.json").write_text(
            json.dumps({"files": n_files, "rows": rows}, indent=2), encoding="utf-8")
        lines = ["| tool | files | seconds | files/s | identifier hits | UID problems |",
                 "|---|---:|---:|---:|---:|---:|"]
        for r in rows:
            lines.append(f"| {r['tool']} | {r['files']} | {r['seconds']} | {r['files_per_s']} "
                         f"| {r['leaks']} | {r['uid_problems']} |")
        (args.out / "dicom_tools.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print("\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
