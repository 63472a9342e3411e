"""Hostile arrays thrown straight at medanon._core: a clear error, never a crash."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from medanon import _core

OK_S = np.zeros(4, np.int32)
OK_C = np.zeros(2, np.int64)
OK_X = np.arange(8, dtype=np.float64).reshape(4, 2)


def call(
    x: object = OK_X,
    s: object = OK_S,
    c: object = OK_C,
    k: int = 2,
    div: str = "none",
    l: float = 1.0,
    cc: float = 1.0,
    mode: str = "strict",
) -> object:
    return _core.mondrian(x, s, c, k, div, l, cc, mode)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        ({"x": OK_X.astype(np.float32)}, TypeError, "incompatible function arguments"),
        ({"x": OK_X.astype(np.int64)}, TypeError, "incompatible function arguments"),
        ({"x": np.asfortranarray(np.arange(12.0).reshape(6, 2))}, TypeError, "incompatible function arguments"),
        ({"x": OK_X[::2]}, TypeError, "incompatible function arguments"),
        ({"x": [[1.0, 2.0]]}, TypeError, "incompatible function arguments"),
        ({"s": OK_S.astype(np.int64)}, TypeError, "incompatible function arguments"),
        ({"c": OK_C.astype(np.int32)}, TypeError, "incompatible function arguments"),
        ({"x": np.arange(4.0)}, ValueError, "2-D"),
        ({"x": np.zeros((0, 2)), "s": np.zeros(0, np.int32)}, ValueError, "empty"),
        ({"x": np.zeros((4, 0)), "c": np.zeros(0, np.int64)}, ValueError, "at least one quasi-identifier"),
        ({"c": np.zeros(3, np.int64)}, ValueError, "one entry per quasi-identifier"),
        ({"s": np.zeros(3, np.int32), "div": "distinct", "l": 1.0}, ValueError, "one code per row"),
        ({"s": np.array([0, -1, 0, 0], np.int32), "div": "distinct"}, ValueError, "negative"),
        ({"s": np.zeros(0, np.int32), "div": "distinct"}, ValueError, "needs the sensitive codes"),
        ({"k": 0}, ValueError, "k must be >= 1"),
        ({"k": 5}, ValueError, "larger than the number of rows"),
        ({"div": "fuzzy"}, ValueError, "diversity must be"),
        ({"mode": "loose"}, ValueError, "mode must be"),
        ({"div": "distinct", "l": 0.5}, ValueError, "l must be"),
        ({"div": "distinct", "l": float("nan")}, ValueError, "l must be"),
        ({"div": "distinct", "l": 1.5}, ValueError, "integer"),
        ({"div": "recursive", "cc": -1.0}, ValueError, "c must be"),
        ({"x": np.array([[0.0, 1.0], [np.nan, 1.0], [1.0, 1.0], [2.0, 2.0]])}, ValueError, r"\[1, 0\] is not finite"),
        ({"x": np.array([[0.0, np.inf]] * 4)}, ValueError, "not finite"),
        ({"c": np.array([0, 3], np.int64), "x": np.array([[0.0, 3.0]] * 4)}, ValueError, "not a category code"),
        ({"c": np.array([0, 3], np.int64), "x": np.array([[0.0, 0.5]] * 4)}, ValueError, "not a category code"),
        ({"c": np.array([-1, 0], np.int64)}, ValueError, "categories"),
        ({"s": np.array([0, 0, 0, 0], np.int32), "div": "distinct", "l": 2.0}, ValueError, "as a whole"),
    ],
)
def test_bad_input_raises_clearly(kwargs: dict[str, object], exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        call(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    x=hnp.arrays(
        dtype=st.sampled_from([np.float64, np.float32, np.int64, np.int32, np.uint8]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
    ),
    s=hnp.arrays(
        dtype=st.sampled_from([np.int32, np.int64]), shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=8)
    ),
    c=hnp.arrays(dtype=st.sampled_from([np.int64, np.int32]), shape=st.integers(0, 4), elements=st.integers(-2, 5)),
    k=st.integers(-3, 10),
    div=st.sampled_from(["none", "distinct", "entropy", "recursive", "", "DISTINCT"]),
    l=st.floats(allow_nan=True, allow_infinity=True),
    cc=st.floats(allow_nan=True, allow_infinity=True),
    mode=st.sampled_from(["strict", "relaxed", "x"]),
)
def test_hostile_arrays_never_crash(
    x: np.ndarray, s: np.ndarray, c: np.ndarray, k: int, div: str, l: float, cc: float, mode: str
) -> None:
    try:
        labels, _mins, _maxs, counts = call(x, s, c, k, div, l, cc, mode)  # type: ignore[misc]
    except (TypeError, ValueError) as err:
        message = str(err)
        assert message  # a message, never an empty error
        return
    # it only succeeds on valid input, and then the output is coherent
    assert x.dtype == np.float64 and x.ndim == 2
    assert counts.sum() == x.shape[0] and counts.min() >= k
    assert labels.min() == 0 and labels.max() == len(counts) - 1


@settings(max_examples=100, deadline=None)
@given(
    x=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 30), st.integers(1, 4)),
        elements=st.floats(allow_nan=True, allow_infinity=True),
    ),
    k=st.integers(1, 5),
)
def test_nonfinite_values_rejected_or_partitioned(x: np.ndarray, k: int) -> None:
    k = min(k, x.shape[0])
    cats = np.zeros(x.shape[1], np.int64)
    if not np.isfinite(x).all():
        with pytest.raises(ValueError, match="not finite"):
            _core.mondrian(x, np.zeros(0, np.int32), cats, k, "none", 1.0, 1.0, "strict")
    else:
        _, _, _, counts = _core.mondrian(x, np.zeros(0, np.int32), cats, k, "none", 1.0, 1.0, "strict")
        assert counts.min() >= k


def test_gil_is_released() -> None:
    # Two threads partition concurrently and get the same answer as one.
    import threading

    rng = np.random.default_rng(0)
    x = np.ascontiguousarray(rng.integers(0, 50, (200_000, 4)).astype(np.float64))
    args = (np.zeros(0, np.int32), np.zeros(4, np.int64), 10, "none", 1.0, 1.0, "strict")
    expected = _core.mondrian(x, *args)[0]
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(_core.mondrian(x, *args)[0])) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and all(np.array_equal(r, expected) for r in results)
