"""Scaling of the C++ core: 10k .. 10M rows, 8 quasi-identifiers, k = 10, distinct l = 3.

Prints rows/s and peak memory (relative to the input arrays) per size, for the
core on one thread ("core") and on every available core ("core-N"), the
reference and naive pandas times side by side at the small sizes, and saves a
plot. Each size and engine runs in a fresh subprocess so that peak memory is
its own; the core takes the best of 10 runs up to 1M rows (its first calls in
a process pay for the memory the process has not mapped yet) and of 3 above,
the reference the best of 3, naive pandas one run.

    python bench/scaling.py [--max-rows 10000000] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def measure_one(n: int, engine: str, repeats: int) -> dict[str, Any]:
    """Run in a subprocess: time one engine on n rows and measure its peak memory."""
    sys.path.insert(0, str(HERE))
    import data

    from medanon import _core, reference
    from medanon.tabular.partitioning import available_cores

    x, s, cats = data.arrays(n)
    input_bytes = x.nbytes + s.nbytes + cats.nbytes
    times = []
    extras = []  # bytes each run added to the peak
    for _ in range(repeats):
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM (Linux)
            can_reset = True
        except OSError:
            can_reset = False
        base = _rss_kib("VmRSS")
        t0 = time.perf_counter()
        if engine.startswith("core"):
            threads = 1 if engine == "core" else available_cores()
            out = _core.mondrian(x, s, cats, 10, "distinct", 3.0, 1.0, "strict", threads)
        elif engine == "reference":
            out = reference.mondrian(x, s, cats, 10, "distinct", 3.0, 1.0, "strict")
        else:
            import naive_pandas

            df = data.table(n)
            t0 = time.perf_counter()
            naive_pandas.anonymise(df, data.QIS, "diagnosis", 10, 3, data.CATEGORICAL)
            out = None
        times.append(time.perf_counter() - t0)
        if can_reset:
            extras.append((_rss_kib("VmHWM") - base) * 1024.0)
        del out
    best = min(times)
    peak_extra = max(extras, default=0.0)
    return {
        "rows": n,
        "engine": engine,
        "seconds": best,
        "rows_per_s": n / best,
        "input_mib": input_bytes / 2**20,
        "peak_mib": (input_bytes + peak_extra) / 2**20,
        "peak_over_input": (input_bytes + peak_extra) / input_bytes,
        "extra_mib_each_run": [round(e / 2**20, 3) for e in extras],
    }


def run_sub(n: int, engine: str, repeats: int) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(n), "--engine", engine, "--repeats", str(repeats)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-rows", type=int, default=10_000_000)
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--engine", default="core", help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    p.add_argument(
        "--baselines-up-to", type=int, default=100_000, help="run reference and naive pandas up to this size"
    )
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.engine, args.repeats)))
        return

    from medanon.tabular.partitioning import available_cores

    cores = available_cores()
    many = f"core-{cores}"
    sizes = [n for n in (10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000) if n <= args.max_rows]
    rows = []
    print(
        f"{'rows':>10} {'engine':>10} {'seconds':>9} {'rows/s':>12} {'input MiB':>10} "
        f"{'peak MiB':>9} {'peak/input':>10}"
    )
    for n in sizes:
        engines = (
            ["core"] + ([many] if cores > 1 else []) + (["reference", "naive"] if n <= args.baselines_up_to else [])
        )
        for e in engines:
            r = run_sub(n, e, {"naive": 1, "reference": 3}.get(e, 10 if n <= 1_000_000 else 3))
            rows.append(r)
            print(
                f"{n:>10,} {e:>10} {r['seconds']:>9.4f} {r['rows_per_s']:>12,.0f} {r['input_mib']:>10.1f} "
                f"{r['peak_mib']:>9.1f} {r['peak_over_input']:>10.2f}"
            )
    by = {(r["rows"], r["engine"]): r["seconds"] for r in rows}
    print("\nspeed-up of the core (same run):")
    for n in sizes:
        if (n, "reference") in by:
            for e in ["core"] + ([many] if cores > 1 else []):
                print(
                    f"  {n:>9,} rows, {e:>7}: {by[(n, 'reference')] / by[(n, e)]:8.0f}x reference, "
                    f"{by[(n, 'naive')] / by[(n, e)]:8.0f}x naive pandas"
                )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps(rows, indent=2))

    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for e, style in [("core", "o-"), (many, "o-."), ("reference", "s--"), ("naive", "^:")]:
        pts = [(r["rows"], r["seconds"]) for r in rows if r["engine"] == e]
        if pts:
            ax1.loglog(*zip(*pts, strict=True), style, label=e)
    ax1.set_xlabel("rows")
    ax1.set_ylabel("seconds (best of 10 or 3; naive pandas: 1 run)")
    ax1.set_title("Mondrian, 8 QIs, k = 10, distinct l = 3")
    ax1.legend()
    for e, style in [("core", "o-"), (many, "o-.")]:
        pts = [(r["rows"], r["peak_over_input"]) for r in rows if r["engine"] == e]
        if pts:
            ax2.semilogx(*zip(*pts, strict=True), style, label=e)
    ax2.axhline(3.0, color="red", linestyle=":", label="3x target")
    ax2.set_xlabel("rows")
    ax2.set_ylabel("peak memory / input arrays")
    ax2.legend()
    fig.savefig(out / "scaling.png", dpi=110)
    print(f"\nsaved {out / 'scaling.json'} and {out / 'scaling.png'}")


if __name__ == "__main__":
    main()
