"""medanon.anonymise(): releases, measured privacy, pycanon cross-checks, bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import medanon
from medanon import reference
from medanon.synthetic.tables import make_patients

QIS = ["age", "sex", "postcode", "weight", "height", "admission_date", "ethnicity"]

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pycanon import anonymity as pycanon  # independent checker


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return make_patients(1500, seed=3)


@pytest.mark.parametrize(("diversity", "l"), [("distinct", 3), ("entropy", 2.5), ("recursive", 2)])
@pytest.mark.parametrize("mode", ["strict", "relaxed"])
def test_generalised_release_is_k_anonymous_and_l_diverse(
    patients: pd.DataFrame, diversity: str, l: float, mode: str
) -> None:
    r = medanon.anonymise(patients, QIS, "diagnosis", k=8, l=l, diversity=diversity, c=3.0, mode=mode)  # type: ignore[arg-type]
    t = r.table
    assert len(t) == len(patients)
    v = medanon.verify(t, QIS, "diagnosis", c=3.0)
    assert v.k >= 8
    assert r.report.achieved["k"] == v.k
    if diversity == "distinct":
        assert v.distinct_l is not None and v.distinct_l >= l
    elif diversity == "entropy":
        assert v.entropy_l is not None and v.entropy_l >= l - 1e-9
    else:
        assert v.recursive_l is not None and v.recursive_l >= l
    # pycanon, independently
    txt = t.astype(str)
    assert pycanon.k_anonymity(txt, QIS) >= 8
    if diversity == "distinct":
        assert pycanon.l_diversity(txt, QIS, ["diagnosis"]) >= l
    if diversity == "entropy":
        assert pycanon.entropy_l_diversity(txt, QIS, ["diagnosis"]) >= math.floor(l)
    # non-QI columns untouched
    pd.testing.assert_series_equal(t["diagnosis"], patients["diagnosis"])
    pd.testing.assert_series_equal(t["record"], patients["record"])


def test_release_forms_agree(patients: pd.DataFrame) -> None:
    gen = medanon.anonymise(patients, QIS, "diagnosis", k=10, l=2)
    agg = medanon.anonymise(patients, QIS, "diagnosis", k=10, l=2, output="aggregate")
    cen = medanon.anonymise(patients, QIS, "diagnosis", k=10, l=2, output="centroid")
    assert gen.partitioning.same_as(agg.partitioning) and gen.partitioning.same_as(cen.partitioning)
    assert agg.table["count"].sum() == len(patients)
    assert medanon.verify(agg.table, QIS, "diagnosis", count="count").k >= 10
    assert agg.report.achieved["k"] >= 10
    # one aggregate row per (partition, diagnosis) pair
    pairs = pd.DataFrame({"p": gen.labels, "d": patients["diagnosis"]}).drop_duplicates()
    assert len(agg.table) == len(pairs)
    # the centroid release keeps means exactly, per partition and overall
    for col in ["age", "weight", "height"]:
        assert cen.table[col].mean() == pytest.approx(patients[col].mean(), rel=1e-12)
        by = patients[col].groupby(gen.labels).mean()
        np.testing.assert_allclose(cen.table[col].groupby(gen.labels).first(), by, rtol=1e-12)
    assert medanon.verify(cen.table, QIS, "diagnosis").k >= 10


def test_generalised_values_contain_the_original(patients: pd.DataFrame) -> None:
    r = medanon.anonymise(patients, ["age", "sex", "admission_date"], "diagnosis", k=5, l=2)
    for orig, rel in zip(patients["age"].head(200), r.table["age"].head(200), strict=True):
        lo, _, hi = rel.partition("-")
        assert int(lo) <= orig <= int(hi or lo)
    for orig, rel in zip(patients["admission_date"].head(200), r.table["admission_date"].head(200), strict=True):
        lo, _, hi = rel.partition("/")
        assert pd.Timestamp(lo) <= orig <= pd.Timestamp(hi or lo)
    for orig, rel in zip(patients["sex"], r.table["sex"], strict=True):
        assert orig == rel or (rel.startswith("{") and orig in rel)


def test_reference_is_swappable(patients: pd.DataFrame) -> None:
    a = medanon.anonymise(patients.head(400), QIS, "diagnosis", k=6, l=2)
    b = reference.anonymise(patients.head(400), QIS, "diagnosis", k=6, l=2)
    assert type(a) is type(b)
    assert a.partitioning.same_as(b.partitioning)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.report.engine == "core" and b.report.engine == "reference"


def test_categorical_order_is_used() -> None:
    df = pd.DataFrame({"grade": ["low", "mid", "high", "low", "mid", "high"] * 4, "x": range(24)})
    order = {"grade": ["low", "mid", "high"]}
    r = medanon.anonymise(df, ["grade"], k=8, categorical_order=order)
    # with the user's order, "low" and "high" are never grouped without "mid"
    assert set(r.table["grade"]) <= {"low", "mid", "high", "{low, mid}", "{mid, high}", "{low, mid, high}"}
    cat = df.assign(grade=pd.Categorical(df["grade"], categories=["high", "mid", "low"], ordered=True))
    r2 = medanon.anonymise(cat, ["grade"], k=8)
    assert "{high, low}" not in set(r2.table["grade"])


def test_suppress_missing() -> None:
    df = make_patients(300, seed=1)
    df.loc[[3, 50, 120], "weight"] = np.nan
    df.loc[7, "height"] = np.inf
    with pytest.raises(ValueError, match="'weight' has 3 missing"):
        medanon.anonymise(df, ["age", "weight", "height"], k=5)
    r = medanon.anonymise(df, ["age", "weight", "height"], k=5, missing="suppress")
    assert r.report.suppressed == 4 and len(r.table) == 296
    assert (r.labels[[3, 7, 50, 120]] == -1).all()
    assert medanon.verify(r.table, ["age", "weight", "height"]).k >= 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be >= 1"),
        ({"k": 10_000}, "larger than the number of rows"),
        ({"k": 2.5}, "k must be an int"),
        ({"l": 50}, "larger than the number of distinct values"),
        ({"diversity": "fuzzy"}, "diversity must be one of"),
        ({"mode": "loose"}, "mode must be"),
        ({"output": "csv"}, "output must be one of"),
        ({"missing": "drop"}, "missing must be"),
        ({"diversity": "recursive", "c": 0}, "c must be"),
        ({"diversity": "distinct", "l": 2.5}, "must be an integer"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs: dict[str, object], message: str) -> None:
    df = make_patients(200, seed=2)
    args: dict[str, object] = {"k": 5, "l": 2}
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        medanon.anonymise(df, ["age", "sex"], "diagnosis", **args)  # type: ignore[arg-type]


def test_bad_columns() -> None:
    df = make_patients(50)
    with pytest.raises(ValueError, match="not in the table: nope"):
        medanon.anonymise(df, ["age", "nope"])
    with pytest.raises(ValueError, match="more than once"):
        medanon.anonymise(df, ["age", "age"])
    with pytest.raises(ValueError, match="both a quasi-identifier and the sensitive"):
        medanon.anonymise(df, ["age", "diagnosis"], "diagnosis")
    with pytest.raises(ValueError, match="empty"):
        medanon.anonymise(df, [])
    with pytest.raises(ValueError, match="empty"):
        medanon.anonymise(df.head(0), ["age"])
    dup = pd.concat([df[["age"]], df[["age"]]], axis=1)
    with pytest.raises(ValueError, match="duplicate column names: age"):
        medanon.anonymise(dup, ["age"])
    with pytest.raises(ValueError, match="needs a sensitive attribute"):
        medanon.anonymise(df, ["age"], l=3)


def test_whole_table_fails_criterion() -> None:
    df = pd.DataFrame({"age": range(40), "dx": ["a"] * 39 + ["b"]})
    with pytest.raises(ValueError, match="as a whole fails entropy"):
        medanon.anonymise(df, ["age"], "dx", k=2, l=1.5, diversity="entropy")
    with pytest.raises(ValueError, match="as a whole fails recursive"):
        medanon.anonymise(df, ["age"], "dx", k=2, l=2, diversity="recursive", c=2)


def test_verify_hand_computed() -> None:
    df = pd.DataFrame({"q": ["A"] * 4 + ["B"] * 6, "s": ["x", "x", "y", "z", "x", "x", "x", "y", "y", "z"]})
    v = medanon.verify(df, ["q"], "s", c=2.0, t_closeness=True)
    assert (v.k, v.classes, v.distinct_l) == (4, 2, 3)
    # class A: 2,1,1 -> H = log 4 - (2 log 2)/4 -> exp = 2.828...; class B: 3,2,1
    h_b = -sum(p * math.log(p) for p in (3 / 6, 2 / 6, 1 / 6))
    h_a = -sum(p * math.log(p) for p in (2 / 4, 1 / 4, 1 / 4))
    assert v.entropy_l == pytest.approx(math.exp(min(h_a, h_b)))
    # recursive with c = 2: A (2,1,1): l=3 needs 2 < 2*1 false; l=2: 2 < 2*2 true -> 2
    # B (3,2,1): l=2: 3 < 2*3 true; l=3: 3 < 2 false -> 2
    assert v.recursive_l == 2
    # t: overall x 5, y 3, z 2; A: .5,.25,.25 ; B: .5,.333,.167 ; equal-distance EMD
    assert v.t == pytest.approx(max(0.5 * (0 + 0.05 + 0.05), 0.5 * (0 + abs(1 / 3 - 0.3) + abs(1 / 6 - 0.2))))


@pytest.mark.parametrize("threads", [0, 2.5, True, "2"])
def test_anonymise_refuses_bad_threads(threads: object) -> None:
    df = pd.DataFrame({"age": [30, 31, 40, 41]})
    with pytest.raises(ValueError, match="threads must be"):
        medanon.anonymise(df, ["age"], k=2, threads=threads)  # type: ignore[arg-type]


def test_anonymise_same_release_on_one_or_two_threads() -> None:
    rng = np.random.default_rng(3)
    n = 40_000
    df = pd.DataFrame(
        {
            "age": rng.integers(0, 95, n),
            "weight": np.round(rng.normal(75, 12, n), 1),
            "sex": rng.choice(["F", "M"], n),
            "dx": rng.choice(list("abcdefgh"), n),
        }
    )
    one = medanon.anonymise(df, ["age", "weight", "sex"], "dx", k=6, l=3, threads=1)
    two = medanon.anonymise(df, ["age", "weight", "sex"], "dx", k=6, l=3, threads=2)
    np.testing.assert_array_equal(one.labels, two.labels)
    pd.testing.assert_frame_equal(one.table, two.table)
