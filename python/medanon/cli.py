"""The ``medanon`` command."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from medanon import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _list(value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list of column names")
    return items


def _positive_int(value: str) -> int:
    try:
        v = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {v}")
    return v


def _err(msg: str) -> None:
    print(f"medanon: error: {msg}", file=sys.stderr)


def _cmd_table(args: argparse.Namespace) -> int:
    from rich.console import Console

    from medanon.plot import partitions
    from medanon.tabular.anonymise import anonymise
    from medanon.tabular.io import check_format, read_table, write_table

    console = Console(stderr=True, quiet=args.quiet)
    src, dst = Path(args.input), Path(args.output)
    if src.resolve() == dst.resolve():
        _err("OUT must differ from IN: medanon never overwrites its input")
        return EXIT_USAGE
    t0 = time.perf_counter()
    try:
        check_format(dst)
        with console.status("reading the table") as status:
            df = read_table(src, args.dates or ())
            status.update(f"anonymising {len(df):,} rows (k = {args.k})")
            result = anonymise(
                df,
                args.qi,
                args.sensitive,
                k=args.k,
                l=args.l,
                diversity=args.diversity,
                c=args.c,
                mode=args.mode,
                output=args.output_form,
                missing=args.missing,
                threads=args.threads,
            )
            status.update("writing the release")
            write_table(result.table, dst)
            if args.report:
                result.report.write_json(Path(args.report))
            if args.plot:
                axes = args.plot_axes or args.qi[:2]
                if len(axes) < 2:
                    raise ValueError("--plot needs two quasi-identifiers: give --plot-axes x,y")
                partitions(result, axes[0], axes[1]).savefig(args.plot, dpi=110)
    except (ValueError, TypeError, FileNotFoundError) as err:
        _err(str(err))
        return EXIT_USAGE
    a = result.report.achieved
    console.print(
        f"wrote {a['rows']:,} rows in {result.report.partitions:,} groups to {dst.name}: "
        f"achieved k = {a['k']}"
        + (f", distinct l = {a['distinct_l']}, entropy l = {a['entropy_l']:.2f}" if args.sensitive else "")
        + f", NCP = {result.report.ncp:.3f} ({time.perf_counter() - t0:.2f} s)"
    )
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from medanon.demo import run_table_demo

    console = Console(stderr=True)
    out = Path(args.outdir)
    with console.status("table: anonymising a synthetic patients table"):
        rep = run_table_demo(out, patients=args.patients, seed=args.seed)
    a = rep["achieved"]
    console.print(
        f"[bold]table[/bold]: {rep['rows']:,} patients -> {rep['partitions']} groups, "
        f"achieved k = {a['k']}, distinct l = {a['distinct_l']}, NCP = {rep['ncp']:.3f}; "
        f"see {out / 'table'}"
    )
    if args.no_dicom:
        return EXIT_OK
    try:
        from medanon.demo import run_dicom_demo
    except ImportError as err:
        _err(f"the DICOM demo needs the dicom extra (pip install 'medanon[dicom]'): {err}")
        return EXIT_FAILED
    try:
        with console.status("dicom: generating a synthetic corpus and releasing it"):
            rel = run_dicom_demo(out, patients=args.dicom_patients, seed=args.seed, progress=False)
    except ValueError as err:
        _err(str(err))
        return EXIT_USAGE
    r = rel.report
    f = r["files"]
    console.print(
        f"[bold]dicom[/bold]: {f['written']} of {f['candidates']} files written; "
        f"{r['patients']} patients -> {r['partitions']} groups"
    )
    for where, v in r["achieved"].items():
        console.print(f"  achieved on the written {where}: k = {v['k']}, distinct l = {v['distinct_l']}")
    px = r["pixels"]
    console.print(f"  burned-in text: {px['boxes_masked']} box(es) masked in {px['files_with_boxes']} file(s)")
    if rel.audit is not None:
        console.print(f"  {rel.audit.summary()}")
    console.print(
        f"  [{'green' if rel.ok else 'red'}]{'PASS' if rel.ok else 'FAIL'}[/]: "
        f"see {out / 'dicom' / 'release' / 'report.html'}"
    )
    return EXIT_OK if rel.ok else EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``medanon`` command."""
    p = argparse.ArgumentParser(
        prog="medanon",
        description="Anonymise medical records for research sharing: k-anonymity with l-diversity, "
        "DICOM de-identification, burned-in text masking.",
    )
    p.add_argument("--version", action="version", version=f"medanon {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("table", help="make a CSV or Parquet table k-anonymous and l-diverse")
    t.add_argument("input", metavar="IN", help="input table (.csv, .parquet)")
    t.add_argument("output", metavar="OUT", help="released table (.csv, .parquet)")
    t.add_argument("--qi", type=_list, required=True, help="quasi-identifier columns, comma-separated")
    t.add_argument("--sensitive", help="the sensitive attribute (needed for l-diversity)")
    t.add_argument("-k", type=_positive_int, default=5, help="k of k-anonymity (default 5)")
    t.add_argument("-l", type=float, default=None, help="l of l-diversity (default 2 with --sensitive)")
    t.add_argument("--diversity", choices=["distinct", "entropy", "recursive", "none"], default=None)
    t.add_argument("--c", type=float, default=1.0, help="c of recursive (c,l)-diversity")
    t.add_argument("--mode", choices=["strict", "relaxed"], default="strict")
    t.add_argument("--output-form", choices=["generalised", "aggregate", "centroid"], default="generalised")
    t.add_argument(
        "--missing",
        choices=["error", "suppress"],
        default="error",
        help="rows with missing quasi-identifiers: fail (default) or leave them out",
    )
    t.add_argument("--dates", type=_list, help="columns to parse as dates")
    t.add_argument(
        "--threads", type=_positive_int, default=None, help="threads for the partitioning (default: every core)"
    )
    t.add_argument("--report", help="write the JSON report here")
    t.add_argument("--plot", help="save the partition figure here (PNG, SVG, PDF)")
    t.add_argument("--plot-axes", type=_list, help="the two quasi-identifiers of the figure")
    t.add_argument("-q", "--quiet", action="store_true")
    t.set_defaults(func=_cmd_table)

    d = sub.add_parser("demo", help="run the whole job on built-in synthetic data")
    d.add_argument("outdir", metavar="OUTDIR")
    d.add_argument("--patients", type=_positive_int, default=5000, help="rows of the synthetic table")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--no-dicom", action="store_true", help="run only the table part of the demo")
    d.add_argument("--dicom-patients", type=_positive_int, default=60, help="patients of the synthetic corpus")
    d.set_defaults(func=_cmd_demo)

    try:
        from medanon.dicom.cli import register
    except ImportError:
        pass  # the dicom extra is not installed
    else:
        register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 1 some work failed, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
