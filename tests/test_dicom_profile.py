"""The generated PS3.15 Table E.1-1 module, the Policy and the conflict rule."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from medanon.dicom import profile
from medanon.dicom.policy import CID7050, Policy, resolve_action

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "ps3.15-table-e1-1.json"


def test_committed_profile_matches_generator() -> None:
    if not SOURCE.exists():
        pytest.skip("../shared/data/ps3.15-table-e1-1.json is absent (needed to regenerate)")
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "generate_profile.py")
    assert spec is not None
    assert spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    committed = (ROOT / "python" / "medanon" / "dicom" / "profile.py").read_text("utf-8")
    assert gen.generate(SOURCE) == committed


def test_profile_covers_every_action_and_range() -> None:
    basics = {row[1] for row in profile.EXACT.values()}
    assert {"D", "Z", "X", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"} - basics <= {
        "K", "C"}
    assert len(profile.EXACT) + len(profile.MASKED) + 1 == 621
    masks = {(m, v) for m, v, _ in profile.MASKED}
    assert (0xFF000000, 0x50000000) in masks
    assert (0xFF00FFFF, 0x60003000) in masks
    assert (0xFF00FFFF, 0x60004000) in masks
    assert profile.PRIVATE[1] == "X"
    assert len(profile.SOURCE_SHA256) == 64


def test_conflict_rule_most_retaining_enabled_option_wins() -> None:
    row = profile.EXACT[0x00080020]  # Study Date: Z, modified C, full K
    assert resolve_action(row, frozenset()) == "Z"
    assert resolve_action(row, frozenset({"rtnLongModifDatesOpt"})) == "C"
    both = frozenset({"rtnLongModifDatesOpt", "rtnLongFullDatesOpt"})
    assert resolve_action(row, both) == "K"
    assert Policy(retain_long_full_dates=True).dates_mode == "keep"
    assert "retain_long_modified_dates" not in Policy(retain_long_full_dates=True).enabled_options()


def test_cid7050_codes_are_the_standard_ones() -> None:
    expected = {"113100", "113101", "113102", "113103", "113104", "113105", "113106",
                "113107", "113108", "113109", "113110", "113111", "113112"}
    assert {c for c, _ in CID7050.values()} == expected
    codes = [c for c, _ in Policy(retain_uids=True, retain_device_identity=True).method_codes()]
    assert codes[0] == "113100"
    assert "113110" in codes
    assert "113109" in codes
    assert "113101" not in codes  # added only when pixels were scanned
    assert all(len(m) <= 64 for _, m in CID7050.values())


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"burned_in": "some"}, "burned_in"),
        ({"pseudonym_prefix": "anon"}, "pseudonym_prefix"),
        ({"pseudonym_prefix": "TOO_LONG_PREFIX"}, "pseudonym_prefix"),
        ({"max_date_shift_days": 0}, "max_date_shift_days"),
        ({"retain_uids": "yes"}, "retain_uids"),
    ],
)
def test_policy_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises((ValueError, TypeError), match=field):
        Policy(**kwargs)  # type: ignore[arg-type]


def test_policy_is_frozen_and_hashable() -> None:
    p = Policy()
    with pytest.raises(AttributeError):
        p.retain_uids = True  # type: ignore[misc]
    assert hash(p) == hash(Policy())
    assert Policy(review_dir="x").review_dir == Path("x")  # type: ignore[arg-type]
