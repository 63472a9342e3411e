"""The ``dicom`` and ``audit`` sub-commands registered by medanon.dicom.cli."""

from __future__ import annotations

import argparse
import json
import shutil

from pydicom.data import get_testdata_file

from medanon.dicom.cli import register


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medanon")
    register(parser.add_subparsers(dest="command"))
    return parser


def test_dicom_and_audit_commands_exit_codes(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), src / "a.dcm")
    (src / "junk.txt").write_text("not dicom")
    key = tmp_path / "key"
    key.write_bytes(b"0123456789abcdef0123456789abcdef")
    out = tmp_path / "out"
    args = _parser().parse_args(["dicom", str(src), str(out), "--key-file", str(key),
                                 "--burned-in", "off", "--retain-uids", "--no-progress",
                                 "--report", str(tmp_path / "r.json"),
                                 "--review-dir", str(tmp_path / "review")])
    assert args.retain_uids is True
    assert args.review_dir is not None
    assert args.func(args) == 1  # junk.txt failed
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["written"] == 1
    assert report["failed"] == 1
    assert "113110" in [c for c, _ in report["method_codes"]]
    captured = capsys.readouterr().out
    assert "file #1: not DICOM" in captured
    (src / "junk.txt").unlink()
    args = _parser().parse_args(["audit", str(src), str(out), "--report",
                                 str(tmp_path / "a.json"), "--dates", "birth"])
    # UIDs were retained on purpose, so the audit flags them
    assert args.func(args) == 1
    assert json.loads((tmp_path / "a.json").read_text())["hits_by_kind"].get("uid", 0) > 0
    out2 = tmp_path / "out2"
    args = _parser().parse_args(["dicom", str(src), str(out2), "--key-file", str(key),
                                 "--burned-in", "off", "--no-progress"])
    assert args.func(args) == 0
    args = _parser().parse_args(["audit", str(src), str(out2)])
    assert args.func(args) == 0


def test_usage_errors_exit_2(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    args = _parser().parse_args(["dicom", str(src), str(src / "inside"), "--no-progress",
                                 "--key-file", str(tmp_path / "missing-key")])
    assert args.func(args) == 2
    assert "key file" in capsys.readouterr().err
    args = _parser().parse_args(["dicom", str(src), str(src), "--no-progress", "--prefix", "x"])
    assert args.func(args) == 2
    args = _parser().parse_args(["audit", str(tmp_path / "nope"), str(src)])
    assert args.func(args) == 2
