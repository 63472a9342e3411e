"""End-to-end research release on a generated corpus: files per second, stage by stage.

    python bench/bench_release.py [--files 5000] [--size 256] [--workers 1 2]

Generates one corpus (headers with planted identifiers, 256x256 pixels, burned-in
text on ultrasound), then runs the whole pipeline (scan, Mondrian over
patients, rewrite with pixel masking, re-scan, audit, report) once per worker
count, in one run, and prints a table. Results go to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from medanon.dicom.policy import Policy
from medanon.dicom.release import anonymise_dicom
from medanon.synthetic.dicom_corpus import make_corpus

HERE = Path(__file__).parent
KEY = b"bench-release-key-0123456789abcdef"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=5000)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--burned-in", default="auto", choices=["auto", "all", "off"])
    p.add_argument("--out", default=str(HERE / "results"))
    args = p.parse_args()

    images = 5
    patients = max(10, args.files // (2 * 2 * images))
    tmp = Path(tempfile.mkdtemp(prefix="medanon-bench-"))
    try:
        t0 = time.perf_counter()
        m = make_corpus(
            tmp / "in",
            n_patients=patients,
            studies_per_patient=2,
            series_per_study=2,
            images_per_series=images,
            seed=1,
            rows=args.size,
            cols=args.size,
            burned_in_text=True,
        )
        print(
            f"corpus: {len(m.files)} files, {patients} patients, {args.size}x{args.size} "
            f"({time.perf_counter() - t0:.1f} s to generate)"
        )
        rows = []
        for w in args.workers:
            out = tmp / f"out{w}"
            t0 = time.perf_counter()
            rel = anonymise_dicom(
                m.root,
                out,
                key=KEY,
                policy=Policy(burned_in=args.burned_in),
                workers=w,
                progress=False,
                k=5,
                quasi_identifiers=["age", "sex", "weight", "size"],
            )
            total = time.perf_counter() - t0
            s = rel.report["seconds"]
            per = s["per_file_stages"]
            rows.append(
                {
                    "workers": w,
                    "files": rel.run.written,
                    "seconds": total,
                    "files_per_s": rel.run.written / total,
                    "scan": s.get("scan", 0.0),
                    "partition": s.get("partition", 0.0),
                    "rewrite": s.get("deidentify", 0.0),
                    "measure": s.get("measure", 0.0),
                    "audit": s.get("audit", 0.0),
                    "cpu_read": per.get("sum_read", 0.0),
                    "cpu_deidentify": per.get("sum_deidentify", 0.0),
                    "cpu_pixels": per.get("sum_pixels", 0.0),
                    "cpu_write": per.get("sum_write", 0.0),
                    "k_headers": rel.report["achieved"]["headers"]["k"],
                    "audit_ok": rel.audit.ok if rel.audit else None,
                    "boxes_masked": rel.report["pixels"]["boxes_masked"],
                }
            )
            shutil.rmtree(out)
        cols = [
            "workers",
            "files",
            "seconds",
            "files_per_s",
            "scan",
            "partition",
            "rewrite",
            "measure",
            "audit",
            "cpu_read",
            "cpu_deidentify",
            "cpu_pixels",
            "cpu_write",
            "k_headers",
            "audit_ok",
            "boxes_masked",
        ]
        print(" | ".join(cols))
        for r in rows:
            print(" | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols))
        if len(rows) > 1:
            print(
                f"rewrite speed-up with {rows[-1]['workers']} workers: "
                f"{rows[0]['rewrite'] / rows[-1]['rewrite']:.2f}x; "
                f"end to end: {rows[0]['seconds'] / rows[-1]['seconds']:.2f}x"
            )
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "bench_release.json").write_text(json.dumps(rows, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
