"""Release reports: what was asked, what was achieved (measured on the output), what it cost."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TableReport:
    """The report of a tabular release.

    Achieved k and l are measured on the released table by
    :func:`medanon.verify`, not taken from the partitioning.

    Attributes
    ----------
    requested : dict
        k, l, diversity, c, mode, output.
    achieved : dict
        k, classes, distinct_l, entropy_l, recursive_l (for c), measured.
    rows, released_rows, suppressed, partitions : int
        Input rows, rows in the release (sum of counts for ``aggregate``),
        rows left out for missing values, final partitions.
    c_avg, discernibility, ncp : float
        Information loss: average class size over k, sum of squared class
        sizes, normalised certainty penalty (0 = no loss, 1 = all lost).
    timings : dict
        Seconds per stage: encode, partition, release, verify.
    """

    requested: dict[str, Any]
    achieved: dict[str, Any]
    rows: int
    released_rows: int
    suppressed: int
    partitions: int
    c_avg: float
    discernibility: int
    ncp: float
    quasi_identifiers: list[str]
    sensitive: str | None
    timings: dict[str, float] = field(default_factory=dict)
    engine: str = "core"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return asdict(self)

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, default=_json_default)

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write the report as JSON (atomically: temp file, then rename)."""
        write_text_atomic(Path(path), self.to_json() + "\n")


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to ``path`` through a temp file in the same folder and a rename.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "r.json"
    >>> write_text_atomic(p, "{}")
    >>> p.read_text()
    '{}'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def figure_png_base64(fig: Any) -> str:
    """A matplotlib figure as a base64 PNG string, for embedding in HTML."""
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _table_html(rows: list[list[Any]], header: list[str]) -> str:
    from html import escape

    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def dicom_report_html(release: Any) -> str:
    """A self-contained HTML report (figures embedded) of a DICOM research release.

    ``release`` is a :class:`medanon.dicom.release.DicomRelease`. The page
    holds no identifier: files are named by their number in the run.
    """
    from html import escape

    rep = release.report
    parts: list[str] = []
    ok = rep.get("ok")
    parts.append(
        f"<h1>medanon release report</h1><p class='{'ok' if ok else 'bad'}'>"
        f"{'PASS' if ok else 'FAIL'}: {rep['files']['written']} file(s) written, "
        f"{rep['files']['failed']} failed, {rep['files']['skipped']} skipped.</p>"
    )
    if "achieved" in rep:
        req = rep["requested"]
        rows = []
        for where, v in rep["achieved"].items():
            rows.append(
                [where, v["k"], v.get("distinct_l"), v.get("entropy_l"), v.get("recursive_l"), v["classes"], v["rows"]]
            )
        parts.append(
            f"<h2>Privacy, measured on the output</h2><p>Requested: k = {req['k']}, {escape(str(req['diversity']))} "
            f"l = {req['l']:g} on <code>{escape(str(rep.get('sensitive')))}</code>; quasi-identifiers "
            f"{escape(', '.join(rep['quasi_identifiers']))}.</p>"
            + _table_html(rows, ["measured on", "k", "distinct l", "entropy l", "recursive l", "groups", "patients"])
            + f"<p>Patients: {rep['patients']} ({rep['patients_written']} written), groups: {rep['partitions']}, "
            f"C<sub>avg</sub> = {rep['c_avg']:.3f}, discernibility = {rep['discernibility']}, "
            f"NCP = {rep['ncp']:.4f}.</p>"
        )
        fid = rep.get("fidelity", {})
        if fid:
            frows = [
                [
                    q,
                    f["mean_before"],
                    f["mean_after"],
                    f["std_before"],
                    f["std_after"],
                    f["missing_or_suppressed_after"],
                ]
                for q, f in fid.items()
            ]
            parts.append(
                "<h2>Statistical fidelity (centroid release)</h2>"
                + _table_html(
                    frows, ["characteristic", "mean before", "mean after", "sd before", "sd after", "emptied"]
                )
            )
    res = release.tabular
    if res is not None:
        from medanon.plot import histograms, partitions

        numeric = [c.name for c in res.encoded.columns if c.kind != "categorical" and not c.name.endswith("_missing")]
        others = [c.name for c in res.encoded.columns if c.name not in numeric and not c.name.endswith("_missing")]
        axes = (numeric + others)[:2]
        if len(axes) == 2:
            parts.append(
                "<h2>Partitions</h2><img alt='partitions' src='data:image/png;base64,"
                + figure_png_base64(partitions(res, axes[0], axes[1]))
                + "'>"
            )
        cols = [c.name for c in res.encoded.columns if not c.name.endswith("_missing")]
        parts.append(
            "<h2>Before and after</h2><img alt='histograms' src='data:image/png;base64,"
            + figure_png_base64(histograms(res, cols))
            + "'>"
        )
    px = rep["pixels"]
    parts.append(
        f"<h2>Burned-in text</h2><p>{px['files_scanned']} file(s) scanned ({px['frames_scanned']} frames); "
        f"{px['boxes_masked']} text box(es) masked in {px['files_with_boxes']} file(s).</p>"
    )
    aud = rep.get("audit")
    if aud is not None:
        kinds = ", ".join(f"{k}: {n}" for k, n in aud["hits_by_kind"].items()) or "none"
        parts.append(
            f"<h2>Audit</h2><p class='{'ok' if aud['ok'] else 'bad'}'>{'PASS' if aud['ok'] else 'FAIL'}: "
            f"{aud['outputs']} output file(s) searched for {aud['identifiers']} identifying value(s) of the "
            f"originals; hits: {escape(kinds)}; UID problems: {len(aud['uid_problems'])}.</p>"
        )
    if rep["errors"]:
        parts.append(
            "<h2>Files not written</h2>"
            + _table_html([[e["file"], e["reason"]] for e in rep["errors"]], ["file", "reason"])
        )
    opts = [[k, v] for k, v in rep["options"].items()]
    parts.append("<h2>Options</h2>" + _table_html(opts, ["option", "value"]))
    secs = [[k, v] for k, v in rep["seconds"].items() if isinstance(v, (int, float))]
    parts.append("<h2>Time</h2>" + _table_html(secs, ["stage", "seconds"]))
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
        ".ok{color:#060;font-weight:bold}.bad{color:#a00;font-weight:bold}img{max-width:100%}"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>medanon release report</title>"
        f"<style>{style}</style></head><body>" + "\n".join(parts) + "</body></html>\n"
    )
