"""The ``medanon table`` and ``medanon demo`` commands, and the figures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import medanon
from medanon import plot
from medanon.cli import main
from medanon.synthetic.tables import make_patients


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    p = tmp_path / "in.csv"
    make_patients(600, seed=5).to_csv(p, index=False)
    return p


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_command(tmp_path: Path, csv: Path, suffix: str) -> None:
    out = tmp_path / f"out{suffix}"
    rep = tmp_path / "report.json"
    fig = tmp_path / "fig.png"
    code = main(
        [
            "table",
            str(csv),
            str(out),
            "--qi",
            "age,sex,weight,admission_date",
            "--dates",
            "admission_date",
            "--sensitive",
            "diagnosis",
            "-k",
            "7",
            "-l",
            "3",
            "--diversity",
            "entropy",
            "--report",
            str(rep),
            "--plot",
            str(fig),
            "-q",
        ]
    )
    assert code == 0
    released = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert len(released) == 600
    qis = ["age", "sex", "weight", "admission_date"]
    v = medanon.verify(released, qis, "diagnosis")
    assert v.k >= 7 and v.entropy_l is not None and v.entropy_l >= 3 - 1e-9
    report = json.loads(rep.read_text())
    assert report["achieved"]["k"] == v.k
    assert report["requested"]["diversity"] == "entropy"
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_command_errors(tmp_path: Path, csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", str(csv), str(tmp_path / "o.csv"), "--qi", "age,nope"]) == 2
    assert "not in the table: nope" in capsys.readouterr().err
    assert main(["table", str(tmp_path / "missing.csv"), str(tmp_path / "o.csv"), "--qi", "age"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["table", str(csv), str(csv), "--qi", "age"]) == 2
    assert "never overwrites its input" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
    with pytest.raises(SystemExit):
        main(["table", str(csv), str(tmp_path / "o.csv"), "--qi", "age", "-k", "0"])
    assert main(["table", str(csv), str(tmp_path / "o.xlsx"), "--qi", "age"]) == 2
    assert "unknown table format .xlsx" in capsys.readouterr().err
    (tmp_path / "empty.csv").write_text("")
    assert main(["table", str(tmp_path / "empty.csv"), str(tmp_path / "o.csv"), "--qi", "age"]) == 2
    assert "cannot read empty.csv" in capsys.readouterr().err
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    assert main(["table", str(tmp_path / "bad.parquet"), str(tmp_path / "o.csv"), "--qi", "age"]) == 2
    assert "cannot read bad.parquet as Parquet" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "o.xlsx").exists()


def test_demo_command(tmp_path: Path) -> None:
    assert main(["demo", str(tmp_path), "--patients", "800", "--no-dicom"]) == 0
    t = tmp_path / "table"
    for name in [
        "patients.csv",
        "release.csv",
        "release_centroid.csv",
        "report.json",
        "partitions.png",
        "histograms.png",
    ]:
        assert (t / name).stat().st_size > 0, name
    rep = json.loads((t / "report.json").read_text())
    released = pd.read_csv(t / "release.csv")
    v = medanon.verify(released, rep["quasi_identifiers"], "diagnosis")
    assert v.k >= 10 and v.distinct_l is not None and v.distinct_l >= 3
    assert "record" not in released.columns


def test_plot_functions(tmp_path: Path) -> None:
    r = medanon.anonymise(make_patients(500), ["age", "sex", "admission_date", "weight"], "diagnosis", k=10, l=2)
    fig = plot.partitions(r, "age", "admission_date")
    ax = fig.axes[0]
    assert len(ax.collections[-1].get_paths()) == r.report.partitions  # one rectangle per partition
    fig2 = plot.histograms(r, ["age", "sex"])
    assert sum(a.get_visible() for a in fig2.axes) == 2
    with pytest.raises(ValueError, match="not a quasi-identifier"):
        plot.partitions(r, "age", "height")
