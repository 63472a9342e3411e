"""The C++ core and reference.py give identical partitions on any input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from medanon import _core, reference
from medanon.privacy.criteria import Criterion, satisfies

CRITERIA = [
    ("none", 1.0, 1.0),
    ("distinct", 2.0, 1.0),
    ("distinct", 3.0, 1.0),
    ("entropy", 1.5, 1.0),
    ("entropy", 2.0, 1.0),
    ("recursive", 2.0, 3.0),
    ("recursive", 3.0, 2.0),
]


@st.composite
def tables(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 120))
    d = draw(st.integers(1, 9))
    cats = np.zeros(d, dtype=np.int64)
    cols = []
    for j in range(d):
        kind = draw(st.sampled_from(["small-int", "float", "constant", "categorical", "wide"]))
        if kind == "small-int":  # many ties
            cols.append(draw(hnp.arrays(np.float64, n, elements=st.integers(0, 4).map(float))))
        elif kind == "float":
            cols.append(draw(hnp.arrays(np.float64, n, elements=st.floats(-1e6, 1e6, allow_nan=False, width=32))))
        elif kind == "constant":
            cols.append(np.full(n, draw(st.floats(-10, 10, allow_nan=False))))
        elif kind == "categorical":
            dom = draw(st.integers(1, 7))
            cats[j] = dom
            cols.append(draw(hnp.arrays(np.float64, n, elements=st.integers(0, dom - 1).map(float))))
        else:
            cols.append(draw(hnp.arrays(np.float64, n, elements=st.integers(-(10**9), 10**9).map(float))))
    x = np.ascontiguousarray(np.stack(cols, axis=1))
    m = draw(st.integers(1, 6))
    s = draw(hnp.arrays(np.int32, n, elements=st.integers(0, m - 1)))
    return x, s, cats


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=tables(),
    k=st.integers(1, 12),
    crit=st.sampled_from(CRITERIA),
    mode=st.sampled_from(["strict", "relaxed"]),
)
def test_core_and_reference_agree(
    table: tuple[np.ndarray, np.ndarray, np.ndarray], k: int, crit: tuple[str, float, float], mode: str
) -> None:
    x, s, cats = table
    n = x.shape[0]
    k = min(k, n)
    div, l, c = crit
    args = (x, s if div != "none" else np.zeros(0, np.int32), cats, k, div, l, c, mode)
    try:
        ref = reference.mondrian(*args)
    except ValueError:
        with pytest.raises(ValueError, match="as a whole"):
            _core.mondrian(*args)
        return
    core = _core.mondrian(*args)
    for a, b in zip(core, ref, strict=True):
        np.testing.assert_array_equal(a, b)
    labels, mins, maxs, counts = core
    # and the partitions are what they claim: >= k rows each, each diverse, bounds exact
    assert counts.min() >= k
    assert counts.sum() == n
    crit_obj = Criterion(k=k, diversity=div, l=l, c=c)  # type: ignore[arg-type]
    for p in range(len(counts)):
        rows = labels == p
        assert rows.sum() == counts[p]
        np.testing.assert_array_equal(x[rows].min(axis=0), mins[p])
        np.testing.assert_array_equal(x[rows].max(axis=0), maxs[p])
        assert satisfies(crit_obj, np.bincount(s[rows]).tolist())
    if mode == "strict":  # equal values never split across partitions on a cut dimension
        first_rows = np.array([np.flatnonzero(labels == p)[0] for p in range(len(counts))])
        assert np.all(np.diff(first_rows) > 0)


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(0, 50), min_size=1, max_size=8),
    crit=st.sampled_from(CRITERIA),
)
def test_diversity_check_agrees(counts: list[int], crit: tuple[str, float, float]) -> None:
    div, l, c = crit
    expected = satisfies(Criterion(k=1, diversity=div, l=l, c=c), counts)  # type: ignore[arg-type]
    assert _core.satisfies(np.array(counts, dtype=np.int64), div, l, c) == expected


def test_recursive_hand_computed() -> None:
    # counts 6, 3, 2, 1: r1 = 6; with l = 2 the tail is 3+2+1 = 6.
    counts = np.array([6, 3, 2, 1], dtype=np.int64)
    assert not _core.satisfies(counts, "recursive", 2.0, 1.0)  # 6 < 1*6 is false
    assert _core.satisfies(counts, "recursive", 2.0, 1.01)  # 6 < 6.06
    assert not _core.satisfies(counts, "recursive", 3.0, 2.0)  # 6 < 2*(2+1) = 6 is false
    assert _core.satisfies(counts, "recursive", 3.0, 2.5)  # 6 < 7.5
    assert not _core.satisfies(counts, "recursive", 5.0, 100.0)  # only 4 values


def test_entropy_boundary_uniform() -> None:
    # l values equally often: entropy exactly log(l) must pass despite rounding.
    for l in range(1, 30):
        assert _core.satisfies(np.full(l, 7, dtype=np.int64), "entropy", float(l), 1.0)
        assert not _core.satisfies(np.full(l, 7, dtype=np.int64), "entropy", l + 0.01, 1.0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", ["strict", "relaxed"])
def test_large_partitions_agree(seed: int, mode: str) -> None:
    # Large enough for the core's bucketed median selection (>= 512 rows a
    # partition), with skew, outliers, heavy ties and a categorical column.
    rng = np.random.default_rng(seed)
    n = 6000
    x = np.stack(
        [
            rng.integers(0, 90, n).astype(float),
            np.round(rng.lognormal(3, 1.5, n), 1),
            np.where(rng.random(n) < 0.01, 1e12, rng.normal(0, 1, n)),
            rng.integers(0, 3, n).astype(float),
            rng.integers(0, 12, n).astype(float),
        ],
        axis=1,
    )
    x = np.ascontiguousarray(x)
    cats = np.array([0, 0, 0, 0, 12], dtype=np.int64)
    s = rng.integers(0, 8, n).astype(np.int32)
    for div, l, c in [("none", 1.0, 1.0), ("distinct", 3.0, 1.0), ("entropy", 2.0, 1.0), ("recursive", 2.0, 2.0)]:
        args = (x, s, cats, 5 + seed, div, l, c, mode)
        core, ref = _core.mondrian(*args), reference.mondrian(*args)
        for a, b in zip(core, ref, strict=True):
            np.testing.assert_array_equal(a, b)


def _encodings_table(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns for every way the core keys a column (see cpp/encoding.hpp)."""
    late_odd = np.round(rng.normal(50, 10, n), 2)
    late_odd[n - 300] = 50.123456789  # not a 2-digit decimal, past the sample the core judges digits on
    cols = [
        rng.integers(-50, 50, n).astype(float),  # integers, negative
        np.round(rng.normal(70, 15, n), 1),  # 1 decimal
        np.round(rng.uniform(-1, 1, n), 6),  # 6 decimals, negative
        late_odd,  # decimals with one exception: ranked
        rng.normal(0, 1, n),  # arbitrary doubles: ranked
        rng.integers(0, 2**40, n).astype(float),  # integers too wide for 31-bit keys: ranked
        np.where(rng.random(n) < 0.5, -0.0, 0.0) + rng.integers(0, 3, n),  # -0.0 and 0.0 are one value
        rng.integers(0, 100, n).astype(float),  # categorical, 100 codes (no bit mask)
        rng.integers(0, 5, n).astype(float),  # categorical, 5 codes (bit mask)
        np.round(rng.uniform(0, 1e9, n), 3),  # decimals too wide for 31-bit keys: ranked
        # beyond 2^52 (every double an integer) beside small fractions: ranked, checked value by value
        np.where(rng.random(n) < 0.5, rng.integers(2**52, 2**60, n).astype(float), rng.normal(0, 1, n)),
    ]
    cats = np.array([0, 0, 0, 0, 0, 0, 0, 100, 5, 0, 0], dtype=np.int64)
    return np.ascontiguousarray(np.stack(cols, axis=1)), cats


ENCODING_CASES = [
    # (columns, sensitive codes, diversity, l, c)
    ([0], "dense", "distinct", 3.0, 1.0),
    ([1, 3], "dense", "entropy", 2.5, 1.0),
    ([4, 5, 6], "dense", "recursive", 3.0, 2.0),
    ([0, 1, 2, 3, 7, 8], "dense", "distinct", 3.0, 1.0),
    (list(range(10)), "dense", "entropy", 2.5, 1.0),
    ([9, 2, 7, 6, 5], "dense", "recursive", 3.0, 2.0),
    # "sparse" stays under 4n + 1024 (a presence table), "huge" goes over it (a sort)
    (list(range(10)), "sparse", "recursive", 3.0, 2.0),
    ([0, 1, 2, 3, 7, 8], "huge", "entropy", 2.5, 1.0),
    ([10, 0, 8], "dense", "distinct", 3.0, 1.0),
]


@pytest.mark.parametrize("case", ENCODING_CASES)
@pytest.mark.parametrize("mode", ["strict", "relaxed"])
def test_every_key_encoding_agrees(case: tuple[list[int], str, str, float, float], mode: str) -> None:
    columns, codes, div, l, c = case
    rng = np.random.default_rng(len(columns) * 7 + len(codes))
    n = 5000
    x, cats = _encodings_table(rng, n)
    x, cats = np.ascontiguousarray(x[:, columns]), cats[columns]
    base = rng.integers(0, 9, n)
    s = {"dense": base, "sparse": base * 2000, "huge": base * 5000 + 7}[codes].astype(np.int32)
    args = (x, s, cats, 7, div, l, c, mode)
    core, ref = _core.mondrian(*args), reference.mondrian(*args)
    for a, b in zip(core, ref, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", ["strict", "relaxed"])
@pytest.mark.parametrize("columns", [[0, 1, 2, 7, 8, 5, 4, 6], list(range(11))])
@pytest.mark.parametrize("codes", [9, 400])
@pytest.mark.parametrize("root", ["free", "blocked"])
def test_threads_do_not_change_the_partitions(mode: str, columns: list[int], codes: int, root: str) -> None:
    # Large enough (>= 16384 rows a thread) that 2 and 3 threads cut the root
    # together and then share subtrees. Eight columns take the fixed-width
    # row split, eleven the generic one; 400 sensitive codes are counted
    # through the list of those present, 9 in full.
    rng = np.random.default_rng(5)
    n = 60_000
    x, cats = _encodings_table(rng, n)
    x, cats = np.ascontiguousarray(x[:, columns]), cats[columns]
    s = rng.integers(0, codes, n).astype(np.int32)
    div, l = "entropy", 2.0
    if root == "blocked":
        # The root tries column 0 first (every span is 1 there, ties go in
        # column order), and its lower half holds only 2 sensitive values:
        # that cut fails distinct l = 3, and the next column must be cut.
        low = x[:, 0] < np.median(x[:, 0])
        s = np.where(low, rng.integers(0, 2, n), rng.integers(2, codes, n)).astype(np.int32)
        div, l = "distinct", 3.0
    one = _core.mondrian(x, s, cats, 8, div, l, 1.0, mode, 1)
    for threads in (2, 3):
        many = _core.mondrian(x, s, cats, 8, div, l, 1.0, mode, threads)
        for a, b in zip(one, many, strict=True):
            np.testing.assert_array_equal(a, b)
    if root == "blocked":
        # The release keeps the lower and upper halves of column 0 apart only through later cuts:
        # the root's cut was on another column, so some partition spans column 0's median.
        mins, maxs = one[1][:, 0], one[2][:, 0]
        median = np.median(x[:, 0])
        assert np.any((mins < median) & (maxs >= median))


@pytest.mark.parametrize("threads", [0, -1, 1025])
def test_bad_thread_counts_are_refused(threads: int) -> None:
    x = np.zeros((4, 1))
    with pytest.raises(ValueError, match="threads must be"):
        _core.mondrian(x, np.zeros(0, np.int32), np.zeros(1, np.int64), 2, "none", 1.0, 1.0, "strict", threads)


_PORTABLE_SCRIPT = """
import sys
import numpy as np
from medanon import _core
data = np.load(sys.argv[1])
out = {"kernel": np.array(_core.split_kernel())}
for d in range(1, 11):
    x, s, cats = np.ascontiguousarray(data["x"][:, :d]), data["s"], data["cats"][:d]  # 10 of the 11
    for mode in ("strict", "relaxed"):
        for i, a in enumerate(_core.mondrian(x, s, cats, 6, "distinct", 3.0, 1.0, mode)):
            out[f"{d}-{mode}-{i}"] = a
np.savez(sys.argv[2], **out)
"""


def test_portable_split_agrees_with_the_vector_one(tmp_path: Path) -> None:
    # On x86-64 the key encoding and the row split run AVX2 versions when the
    # CPU has it (d <= 8 columns); MEDANON_DISABLE_AVX2=1 forces the portable
    # ones, which must encode and cut the same, for every d from 1 to 10.
    rng = np.random.default_rng(11)
    x, cats = _encodings_table(rng, 4000)
    s = rng.integers(0, 9, 4000).astype(np.int32)
    np.savez(tmp_path / "in.npz", x=x, s=s, cats=cats)
    results = {}
    for name, flag in (("default", "0"), ("portable", "1")):
        env = dict(os.environ, MEDANON_DISABLE_AVX2=flag)
        script = [sys.executable, "-c", _PORTABLE_SCRIPT, str(tmp_path / "in.npz"), str(tmp_path / f"{name}.npz")]
        subprocess.run(script, check=True, env=env, timeout=600)
        results[name] = np.load(tmp_path / f"{name}.npz")
    assert str(results["portable"]["kernel"]) == "portable"
    assert str(results["default"]["kernel"]) in ("avx2", "portable")
    assert len(results["default"].files) == 1 + 10 * 2 * 4
    for key in results["default"].files:
        if key == "kernel":
            continue
        np.testing.assert_array_equal(results["default"][key], results["portable"][key], err_msg=key)
